// Classification (bottom right, while handling an interaction or with a Recent one selected): qualified or not,
// tags (pick or create), value, and notes that save as the agent types (debounced, with a saved marker).

import { byAction, byField, byForm, byKey, listen } from './actions.js';
import { api, refusal } from './api.js';
import { html, icon, render } from './html.js';
import { QUIET, later, putInteraction, selected, state, subscribe, update } from './store.js';

const NOTES_DEBOUNCE_MS = 700;
const SAVING = { idle: '', saved: 'Saved', saving: 'Saving…', pending: 'Editing…',
  failed: 'Not saved: retrying when you type again' };

export function mount(root) {
  listen(root, 'change', PICKED, byField);
  listen(root, 'input', TYPED, byField);
  listen(root, 'submit', FORMS, byForm);
  listen(root, 'keydown', KEYS, byKey);
  listen(root, 'click', ACTIONS, byAction);
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
  const { classification } = s;
  const typed = classification.id === interaction.id ? classification.typed : {};
  const notes = typed.notes ?? interaction.notes;
  const value = typed.value ?? (interaction.value_cents === null ? '' : (interaction.value_cents / 100).toFixed(2));
  const q = interaction.qualified;
  return html`
    <h2>Classification</h2>
    <form id="classify" class="classification" data-interaction="${interaction.id}">
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
      <p class="saved-marker" role="status">${classification.id !== interaction.id ? '' : SAVING[classification.saving]}</p>
      ${classification.refused?.id === interaction.id ? html`<p class="error" role="alert">${classification.refused.text}</p>` : ''}
    </form>`;
}

// A change saved at once; one the server refuses (or that cannot reach it) is said under the form. The
// interaction as saved, or null.
async function classify(changes, id = state.selectedId) {
  let answer;
  try {
    answer = await api('PATCH', `/api/v1/interactions/${id}/classification`, changes);
  } catch (failure) {
    update((s) => { s.classification.refused = { id, text: `Not saved: ${refusal(failure)}` }; });
    return null;
  }
  update((s) => {
    if (s.classification.refused?.id === id) s.classification.refused = null;
    putInteraction(s, answer);
    for (const tag of answer.tags) if (!s.tags.includes(tag)) s.tags = [...s.tags, tag].sort();
  });
  return answer;
}

function addTag(name) {
  const tag = name.trim();
  const { tags } = selected();
  update((s) => { delete s.classification.typed.tag; });
  if (tag && !tags.includes(tag)) classify({ tags: [...tags, tag] });
}

async function saveNotes() {
  const { id, typed: { notes } } = state.classification;
  update((s) => { s.classification.saving = 'saving'; });
  const saved = await classify({ notes }, id);
  update((s) => {
    const now = s.classification;
    if (!saved) now.saving = 'failed';
    else if (now.id === id && now.typed.notes === notes) { delete now.typed.notes; now.saving = 'saved'; }
  });
}

// What the agent is typing, by field, for the selected interaction: redraws for live events (or for the answer
// to the agent's own last change) show it instead of the saved value, so nothing typed is ever lost.
function keepTyped(field) {
  update((s) => {
    if (s.classification.id !== s.selectedId) {
      Object.assign(s.classification, { id: s.selectedId, typed: {}, saving: 'idle' });
    }
    s.classification.typed[field.name] = field.value;
  }, QUIET);
}

const TYPED = {
  tag: keepTyped,
  value: keepTyped,
  notes: (field) => {
    keepTyped(field);
    update((s) => { s.classification.saving = 'pending'; }, QUIET);
    later('notes', NOTES_DEBOUNCE_MS, saveNotes);
    // Said at once, without redrawing the form under the typist (the state says the same for the next redraw).
    field.form.querySelector('.saved-marker').textContent = SAVING.pending;
  },
};

const PICKED = {
  qualified: (field) => classify({ qualified: field.value === 'unset' ? null : field.value === 'yes' }),
  value: (field) => {
    update((s) => { delete s.classification.typed.value; }, QUIET);
    const dollars = field.value.trim();
    return classify({ value_cents: dollars === '' ? null : Math.round(Number(dollars) * 100) });
  },
};

const FORMS = {
  classify: () => {}, // Enter in a field saves by its change
};

const KEYS = {
  Enter: (event) => {
    if (event.target.name !== 'tag') return;
    event.preventDefault();
    addTag(event.target.value);
  },
};

const ACTIONS = {
  'remove-tag': ({ tag }) => classify({ tags: selected().tags.filter((t) => t !== tag) }),
  'add-tag': (data, button) => addTag(button.closest('form').elements.tag.value),
};
