// Contact details (top right): the lead on screen (leadOnScreen: the selected interaction's, or the one opened
// from a search) with its name, numbers and email, edited in place (click or Enter on a field; Enter saves,
// Escape cancels). A save goes to the lead whose form was submitted. What the server refuses is said under the
// field it is about, for that lead only, with what was typed kept for fixing; it goes once the value is saved
// or given up (Escape), and when another lead is shown.

import { api, refusal } from './api.js';
import { html, render } from './html.js';
import { leadOnScreen, subscribe, update } from './store.js';

const FIELDS = [['name', 'Name', 200], ['numbers', 'Phone numbers', 400], ['email', 'Email', 254]];
const leads = new Map(); // id -> lead, as GET /api/v1/leads/<id> answers
let shownId = null;      // the lead the area shows
let editing = null;      // {field, value}: the field being edited and what is typed in it
let problems = {};       // field -> why the server refused the value last saved (of the lead shown)
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
      delete problems[editing.field];
      editing = null;
      update(() => {});
    }
  });
  // What is typed is kept without a redraw, so that a redraw for a live event (or a refusal) shows it again.
  root.addEventListener('input', (event) => {
    if (editing && event.target.name === 'value') editing.value = event.target.value;
  });
  root.addEventListener('submit', (event) => {
    event.preventDefault();
    save(event.target);
  });
  subscribe((s) => {
    const leadId = leadOnScreen(s)?.id ?? null;
    if (leadId !== shownId) {
      shownId = leadId;
      editing = null;
      problems = {};
    }
    if (leadId && (!leads.has(leadId) || (s.leadVersion !== seenVersion && s.changedLeadId === leadId))) {
      seenVersion = s.leadVersion;
      load(leadId);
    }
    render(root, view(leadId ? leads.get(leadId) : null));
  });
}

async function load(leadId) {
  leads.set(leadId, leads.get(leadId) || null);
  known(await api('GET', `/api/v1/leads/${leadId}`));
}

// The lead as the server has it now; a lead opened from a search is also the panel's (its title names it).
function known(lead) {
  leads.set(lead.id, lead);
  update((s) => { if (s.lead?.id === lead.id) s.lead = lead; });
}

function shown(lead, field) {
  return field === 'numbers' ? lead.numbers.join(', ') : lead[field];
}

function view(lead) {
  if (!lead) return html`<h2>Contact details</h2><p class="empty">Select a lead in the inbox.</p>`;
  return html`
    <h2>Contact details</h2>
    <dl class="contact">
      ${FIELDS.map(([field, label, length]) => html`
        <dt>${label}</dt>
        <dd>${editing?.field === field ? html`<form class="inline-edit" data-lead="${lead.id}" data-field="${field}">
              <input name="value" aria-label="${label}" value="${editing.value}" maxlength="${length}"
                data-focus="edit-${field}" ${problems[field] ? html`aria-invalid="true" aria-describedby="problem-${field}"` : ''}>
              <button type="submit" class="primary">Save</button></form>`
          : html`<span class="editable" tabindex="0" role="button" data-edit="${field}" data-focus="field-${field}"
              title="Edit ${label.toLowerCase()}">${shown(lead, field) || html`<em>add ${label.toLowerCase()}</em>`}</span>`}
          ${problems[field] ? html`<p class="error field-problem" id="problem-${field}" role="alert">${problems[field]}</p>` : ''}
        </dd>`)}
    </dl>`;
}

function startEditing(field) {
  editing = { field, value: shown(leads.get(shownId), field) };
  update(() => {});
  requestAnimationFrame(() => document.querySelector(`[data-focus="edit-${field}"]`)?.focus());
}

async function save(form) {
  const leadId = Number(form.dataset.lead);
  const { field } = form.dataset;
  const value = form.elements.value.value;
  const change = field === 'numbers' ? { numbers: value.split(',').map((n) => n.trim()).filter(Boolean) }
    : { [field]: value.trim() };
  try {
    known(await api('PATCH', `/api/v1/leads/${leadId}`, change));
    if (leadId !== shownId) return;
    delete problems[field];
    if (editing?.field === field) editing = null;
  } catch (failure) {
    if (leadId !== shownId) return; // another lead is shown now: this one's refusal is not about it
    problems[field] = `Not saved: ${refusal(failure)}`;
  }
  update(() => {});
}
