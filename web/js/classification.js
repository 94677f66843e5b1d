// Classification (bottom right, while handling an interaction or with a Recent one selected): qualified or not,
// tags (pick or create), value, and notes that save as the agent types (debounced, with a saved marker).

import { api, refusal } from './api.js';
import { html, icon, render } from './html.js';
import { selected, state, subscribe, update } from './store.js';

const NOTES_DEBOUNCE_MS = 700;
// What the agent is typing, by field, for the selected interaction: redraws for live events (or for the answer
// to the agent's own last change) show it instead of the saved value, so nothing typed is ever lost.
let typing = { id: null, fields: {} };
let saving = 'idle'; // idle | pending | saving | saved | failed
let refused = { id: null, text: '' }; // why the last change to an interaction was not saved, until one is
let timer = null;

export function mount(root) {
  root.addEventListener('change', (event) => {
    const field = event.target;
    if (field.name === 'qualified') {
      classify({ qualified: field.value === 'unset' ? null : field.value === 'yes' }).catch(() => {});
    }
    if (field.name === 'value') {
      delete typing.fields.value;
      const dollars = field.value.trim();
      classify({ value_cents: dollars === '' ? null : Math.round(Number(dollars) * 100) }).catch(() => {});
    }
  });
  root.addEventListener('submit', (event) => event.preventDefault()); // Enter in a field saves by its change
  root.addEventListener('input', (event) => {
    const field = event.target;
    if (!['notes', 'tag', 'value'].includes(field.name)) return;
    if (typing.id !== state.selectedId) { typing = { id: state.selectedId, fields: {} }; saving = 'idle'; }
    typing.fields[field.name] = field.value;
    if (field.name !== 'notes') return;
    saving = 'pending';
    clearTimeout(timer);
    timer = setTimeout(saveNotes, NOTES_DEBOUNCE_MS);
    root.querySelector('.saved-marker').textContent = 'Editing…';
  });
  root.addEventListener('keydown', (event) => {
    if (event.target.name === 'tag' && event.key === 'Enter') {
      event.preventDefault();
      addTag(event.target.value);
    }
  });
  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-action]');
    if (!button) return;
    const current = selected();
    if (button.dataset.action === 'remove-tag') {
      classify({ tags: current.tags.filter((tag) => tag !== button.dataset.tag) }).catch(() => {});
    } else if (button.dataset.action === 'add-tag') addTag(root.querySelector('[name=tag]').value);
  });
  subscribe((s) => render(root, view(s)));
}

function classifiable(interaction, s) {
  return interaction && ((interaction.status === 'active' && interaction.agent?.id === s.me?.id)
    || interaction.status === 'recent');
}

function view(s) {
  const interaction = selected(s);
  if (!classifiable(interaction, s)) {
    return html`<h2>Classification</h2><p class="empty">Shown while you handle an interaction or select a recent one.</p>`;
  }
  const typed = typing.id === interaction.id ? typing.fields : {};
  const notes = typed.notes ?? interaction.notes;
  const value = typed.value ?? (interaction.value_cents === null ? '' : (interaction.value_cents / 100).toFixed(2));
  const q = interaction.qualified;
  return html`
    <h2>Classification</h2>
    <form class="classification" data-interaction="${interaction.id}">
      <fieldset class="qualified"><legend>Lead</legend>
        <label><input type="radio" name="qualified" value="yes" ${q === true ? 'checked' : ''} data-focus="q-yes"> Qualified</label>
        <label><input type="radio" name="qualified" value="no" ${q === false ? 'checked' : ''} data-focus="q-no"> Unqualified</label>
        <label><input type="radio" name="qualified" value="unset" ${q === null ? 'checked' : ''} data-focus="q-unset"> Not yet</label>
      </fieldset>
      <div class="tags" aria-label="Tags">
        ${interaction.tags.map((tag) => html`<span class="tag">${tag}<button type="button" data-action="remove-tag"
          data-tag="${tag}" aria-label="Remove tag ${tag}">${icon('close')}</button></span>`)}
        <input name="tag" list="tag-names" placeholder="Add a tag" aria-label="Add a tag" data-focus="tag" maxlength="50"
          value="${typed.tag ?? ''}">
        <button type="button" data-action="add-tag">Add</button>
        <datalist id="tag-names">${s.tags.filter((t) => !interaction.tags.includes(t)).map((t) => html`<option value="${t}">`)}</datalist>
      </div>
      <label>Value ($) <input name="value" type="number" min="0" step="0.01" data-focus="value"
        value="${value}"></label>
      <label>Notes <textarea name="notes" rows="5" data-focus="notes" maxlength="20000">${notes}</textarea></label>
      <p class="saved-marker" role="status">${typing.id !== interaction.id ? '' : { saved: 'Saved', saving: 'Saving…', pending: 'Editing…', failed: 'Not saved: retrying when you type again' }[saving]}</p>
      ${refused.id === interaction.id ? html`<p class="error" role="alert">${refused.text}</p>` : ''}
    </form>`;
}

// A change saved at once; one the server refuses (or that cannot reach it) is said under the form.
async function classify(changes, id = state.selectedId) {
  let answer;
  try {
    answer = await api('PATCH', `/api/v1/interactions/${id}/classification`, changes);
  } catch (failure) {
    refused = { id, text: `Not saved: ${refusal(failure)}` };
    update(() => {});
    throw failure;
  }
  if (refused.id === id) refused = { id: null, text: '' };
  update((s) => {
    s.interactions.set(id, answer);
    for (const tag of answer.tags) if (!s.tags.includes(tag)) s.tags = [...s.tags, tag].sort();
  });
  return answer;
}

function addTag(name) {
  const tag = name.trim();
  const current = selected();
  delete typing.fields.tag;
  if (!tag || current.tags.includes(tag)) { update(() => {}); return; }
  classify({ tags: [...current.tags, tag] }).catch(() => {});
}

async function saveNotes() {
  const { id } = typing;
  const { notes } = typing.fields;
  saving = 'saving';
  update(() => {});
  try {
    await classify({ notes }, id);
    if (typing.id === id && typing.fields.notes === notes) { delete typing.fields.notes; saving = 'saved'; }
  } catch (error) {
    saving = 'failed';
  }
  update(() => {});
}
