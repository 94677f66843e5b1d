// Lead search at the top of the inbox: by name, email or number (any part of it the server matches: a name word,
// the last digits...). While a search is typed its results take the place of Incoming / Active / Recent;
// opening a result shows the lead's timeline in the interaction panel.

import { api } from './api.js';
import { html, icon } from './html.js';
import { QUIET, cancel, later, state, update } from './store.js';

const SEARCH_DELAY_MS = 250;
const RESULTS = 20;

export function searchBox(s) {
  return html`
    <form id="lead-search" class="lead-search" role="search" autocomplete="off">
      <input type="search" name="q" value="${s.search.query}" data-focus="lead-search" aria-label="Search leads"
        placeholder="Search leads: name or number">
    </form>`;
}

export function searching(s) {
  return s.search.query.trim() !== '';
}

export function results(s) {
  const { found, loading, error } = s.search;
  return html`
    <section class="inbox-section" data-section="search" aria-label="Search results">
      <h2>Leads <span class="count">${found.length}</span></h2>
      ${error ? html`<p class="error">${error}</p>` : ''}
      ${found.length ? html`<ul>${found.map((lead) => html`
        <li class="row lead-result">
          <span class="icon channel">${icon('lead')}</span>
          <button class="link lead-name" data-action="open-lead" data-id="${lead.id}" data-focus="lead-${lead.id}">
            ${lead.name || lead.numbers[0] || lead.email}</button>
          <span class="meta">${lead.numbers.join(', ')}${lead.email ? html` <span>${lead.email}</span>` : ''}</span>
        </li>`)}</ul>` : html`<p class="empty">${loading ? 'Searching…' : 'No lead matches'}</p>`}
    </section>`;
}

// What is typed is kept without a redraw (the box keeps its caret); the search runs once typing pauses.
export function typed(query) {
  update((s) => { s.search.query = query; }, QUIET);
  if (!query.trim()) {
    cancel('search');
    update((s) => { s.search.found = []; s.search.error = ''; });
    return;
  }
  update((s) => { s.search.loading = true; });
  later('search', SEARCH_DELAY_MS, () => run(query));
}

export function clear() {
  cancel('search');
  update((s) => { s.search = { query: '', found: [], loading: false, error: '' }; });
}

async function run(query) {
  try {
    const found = await api('GET', `/api/v1/leads?q=${encodeURIComponent(query.trim())}&limit=${RESULTS}`);
    update((s) => {
      if (s.search.query !== query) return; // a newer search is on its way
      Object.assign(s.search, { found, loading: false, error: '' });
    });
  } catch (error) {
    update((s) => { Object.assign(s.search, { found: [], loading: false, error: error.message }); });
  }
}

// The lead's timeline in the panel (its contact details on the right).
export function openLead(id) {
  const lead = state.search.found.find((l) => l.id === id);
  update((s) => { s.lead = lead; s.view = 'lead'; s.selectedId = null; s.quickId = null; });
}
