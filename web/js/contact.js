// Contact details (top right): the selected lead's name, numbers and email, edited in place (click or Enter on a
// field; Enter saves, Escape cancels).

import { api } from './api.js';
import { html, render } from './html.js';
import { selected, subscribe, update } from './store.js';

const FIELDS = [['name', 'Name'], ['numbers', 'Phone numbers'], ['email', 'Email']];
const leads = new Map(); // id -> lead, as GET /api/v1/leads/<id> answers
let editing = null;      // the field being edited
let error = '';
let seenVersion = 0;

export function mount(root) {
  root.addEventListener('click', (event) => {
    const field = event.target.closest('[data-edit]');
    if (field && !editing) startEditing(field.dataset.edit);
  });
  root.addEventListener('keydown', (event) => {
    if (event.target.dataset.edit && !editing && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      startEditing(event.target.dataset.edit);
    } else if (event.key === 'Escape' && editing) {
      editing = null;
      update(() => {});
    }
  });
  root.addEventListener('submit', (event) => {
    event.preventDefault();
    save(event.target.elements.value.value);
  });
  subscribe((s) => {
    // The lead of the selected interaction, or the one opened from a search.
    const leadId = s.view === 'lead' ? s.lead?.id : selected(s)?.lead.id;
    if (leadId && (!leads.has(leadId) || (s.leadVersion !== seenVersion && s.changedLeadId === leadId))) {
      seenVersion = s.leadVersion;
      load(leadId);
    }
    render(root, view(leadId ? leads.get(leadId) : null));
  });
}

async function load(leadId) {
  leads.set(leadId, leads.get(leadId) || null);
  leads.set(leadId, await api('GET', `/api/v1/leads/${leadId}`));
  update(() => {});
}

function shown(lead, field) {
  return field === 'numbers' ? lead.numbers.join(', ') : lead[field];
}

function view(lead) {
  if (!lead) return html`<h2>Contact details</h2><p class="empty">Select a lead in the inbox.</p>`;
  return html`
    <h2>Contact details</h2>
    <dl class="contact">
      ${FIELDS.map(([field, label]) => html`
        <dt>${label}</dt>
        <dd>${editing === field ? html`<form class="inline-edit" data-lead="${lead.id}">
              <input name="value" aria-label="${label}" value="${shown(lead, field)}" data-focus="edit-${field}" autofocus>
              <button type="submit" class="primary">Save</button></form>`
          : html`<span class="editable" tabindex="0" role="button" data-edit="${field}" data-focus="field-${field}"
              title="Edit ${label.toLowerCase()}">${shown(lead, field) || html`<em>add ${label.toLowerCase()}</em>`}</span>`}
        </dd>`)}
    </dl>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ''}`;
}

function startEditing(field) {
  editing = field;
  error = '';
  update(() => {});
  requestAnimationFrame(() => document.querySelector(`[data-focus="edit-${field}"]`)?.focus());
}

async function save(value) {
  const lead = leads.get(selected()?.lead.id);
  if (!lead) return;
  const change = editing === 'numbers' ? { numbers: value.split(',').map((n) => n.trim()).filter(Boolean) }
    : { [editing]: value.trim() };
  try {
    leads.set(lead.id, await api('PATCH', `/api/v1/leads/${lead.id}`, change));
    editing = null;
    error = '';
  } catch (failure) {
    error = Object.values(failure.fields).join('; ') || failure.message;
  }
  update(() => {});
}
