// Contact details (top right): the lead on screen (leadOnScreen: the selected interaction's, or the one opened
// from a search) with its name, numbers and email, edited in place (click or Enter on a field; Enter saves,
// Escape cancels). A save goes to the lead whose form was submitted. What the server refuses is said under the
// field it is about, for that lead only, with what was typed kept for fixing; it goes once the value is saved
// or given up (Escape), and when another lead is shown.

import { byAction, byField, byForm, byKey, listen } from './actions.js';
import { api, refusal } from './api.js';
import { html, render } from './html.js';
import { QUIET, applyLead, leadOnScreen, say, state, subscribe, update } from './store.js';

const FIELDS = [['name', 'Name', 200], ['numbers', 'Phone numbers', 400], ['email', 'Email', 254]];

export function mount(root) {
  listen(root, 'click', ACTIONS, byAction);
  listen(root, 'keydown', KEYS, byKey);
  listen(root, 'input', TYPED, byField);
  listen(root, 'submit', FORMS, byForm);
  subscribe(follow);
  subscribe((s) => render(root, view(s)));
}

// Another lead on screen: what was edited and refused was about the last one; the new one is loaded if not known.
function follow(s) {
  const leadId = leadOnScreen(s)?.id ?? null;
  if (leadId !== s.contact.leadId) update((s) => { s.contact = { leadId, editing: null, problems: {} }; });
  if (leadId !== null && !s.leads.has(leadId)) load(leadId);
}

async function load(leadId) {
  update((s) => { s.leads.set(leadId, null); });
  try {
    const lead = await api('GET', `/api/v1/leads/${leadId}`);
    update((s) => applyLead(s, lead));
  } catch (failure) {
    say(refusal(failure));
  }
}

function shown(lead, field) {
  return field === 'numbers' ? lead.numbers.join(', ') : lead[field];
}

function view(s) {
  const { leadId, editing, problems } = s.contact;
  if (leadId === null) return html`<h2>Contact details</h2><p class="empty">Select a lead in the inbox.</p>`;
  const lead = s.leads.get(leadId);
  if (!lead) return html`<h2>Contact details</h2><p class="empty">Loading…</p>`;
  return html`
    <h2>Contact details</h2>
    <dl class="contact">
      ${FIELDS.map(([field, label, length]) => html`
        <dt>${label}</dt>
        <dd>${editing?.field === field ? html`<form id="lead-field" class="inline-edit" data-lead="${lead.id}" data-field="${field}">
              <input name="value" aria-label="${label}" value="${editing.value}" maxlength="${length}"
                data-focus="edit-${field}" ${problems[field] ? html`aria-invalid="true" aria-describedby="problem-${field}"` : ''}>
              <button type="submit" class="primary">Save</button></form>`
          : html`<span class="editable" tabindex="0" role="button" data-action="edit" data-field="${field}"
              data-focus="field-${field}" title="Edit ${label.toLowerCase()}">${shown(lead, field) || html`<em>add ${label.toLowerCase()}</em>`}</span>`}
          ${problems[field] ? html`<p class="error field-problem" id="problem-${field}" role="alert">${problems[field]}</p>` : ''}
        </dd>`)}
    </dl>`;
}

function startEditing(field) {
  if (state.contact.editing) return;
  update((s) => { s.contact.editing = { field, value: shown(s.leads.get(s.contact.leadId), field) }; });
  requestAnimationFrame(() => document.querySelector(`[data-focus="edit-${field}"]`)?.focus());
}

// Enter or Space on a field edits it, as a click does.
function editFromKey(event) {
  if (event.target.dataset.action !== 'edit' || state.contact.editing) return;
  event.preventDefault();
  startEditing(event.target.dataset.field);
}

const ACTIONS = {
  edit: ({ field }) => startEditing(field),
};

const KEYS = {
  Enter: editFromKey,
  Space: editFromKey,
  // Escape gives the edit up, and what the server said about it.
  Escape: () => state.contact.editing && update((s) => {
    delete s.contact.problems[s.contact.editing.field];
    s.contact.editing = null;
  }),
};

// What is typed is kept without a redraw, so that a redraw for a live event (or a refusal) shows it again.
const TYPED = {
  value: (field) => state.contact.editing && update((s) => { s.contact.editing.value = field.value; }, QUIET),
};

const FORMS = {
  'lead-field': save,
};

async function save(form) {
  const leadId = Number(form.dataset.lead);
  const { field } = form.dataset;
  const value = form.elements.value.value;
  const change = field === 'numbers' ? { numbers: value.split(',').map((n) => n.trim()).filter(Boolean) }
    : { [field]: value.trim() };
  try {
    const lead = await api('PATCH', `/api/v1/leads/${leadId}`, change);
    update((s) => {
      applyLead(s, lead);
      if (s.contact.leadId !== leadId) return;
      delete s.contact.problems[field];
      if (s.contact.editing?.field === field) s.contact.editing = null;
    });
  } catch (failure) {
    // Another lead shown now: this one's refusal is not about it.
    update((s) => { if (s.contact.leadId === leadId) s.contact.problems[field] = `Not saved: ${refusal(failure)}`; });
  }
}
