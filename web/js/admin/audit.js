// The audit log page: every admin change of the company, newest first, filterable by what was changed, by whom, the
// kind of change and the time; each entry shows its fields before and after (secrets masked by the server).

import { api } from '../api.js';
import { html, render } from '../html.js';
import { formValues } from './forms.js';

const RESOURCES = ['user', 'invitation', 'company', 'api_key', 'chat_widget', 'visit_settings', 'team', 'flow',
  'tracking_number', 'trunk', 'number_pool', 'greeting', 'dialplan'];

// Fields every resource has that say nothing about the change (a new row's id and creation time).
const BOOKKEEPING = new Set(['id', 'created_at']);

export const page = {
  id: 'audit',
  title: 'Audit log',
  icon: 'audit',
  role: 'supervisor',
  async show(root, ctx) {
    const [users, company] = await Promise.all([api('GET', '/api/v1/users'), api('GET', '/api/v1/company')]);
    const zone = company.time_zone;
    const view = { entries: [], next: null, filters: {}, loading: false };

    async function load(more = false) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(view.filters)) if (value) query.set(name, value);
      if (more && view.next) query.set('before', view.next);
      view.loading = true;
      draw();
      const found = await api('GET', `/api/v1/audit-log?${query}`);
      view.entries = more ? [...view.entries, ...found.entries] : found.entries;
      view.next = found.next;
      view.loading = false;
      draw();
    }

    function draw() {
      render(root.querySelector('#audit-entries'), html`
        ${view.entries.length ? html`
        <table class="rows audit-rows">
          <thead><tr><th>When <small>(${zone.replaceAll('_', ' ')})</small></th><th>Who</th><th>What</th><th>Changes</th></tr></thead>
          <tbody>${view.entries.map((e) => entry(e, zone))}</tbody>
        </table>` : html`<p class="empty">${view.loading ? 'Loading...' : 'No changes recorded match.'}</p>`}
        ${view.next ? html`<p><button data-action="older">Older changes</button></p>` : ''}`);
    }

    root.innerHTML = html`
      <h1>Audit log</h1>
      <form id="audit-filters" class="panel-box form-row" aria-label="Filters">
        <label>Resource <select name="resource"><option value="">Any</option>
          ${RESOURCES.map((r) => html`<option value="${r}">${label(r)}</option>`)}</select></label>
        <label>Who <select name="user_id"><option value="">Anyone</option>
          ${users.map((u) => html`<option value="${u.id}">${u.name} (${u.email})</option>`)}</select></label>
        <label>Change <select name="action"><option value="">Any</option>
          ${['created', 'updated', 'deleted', 'invited', 'deactivated', 'reactivated', 'role_changed', 'revoked',
    'password_reset'].map((a) => html`<option value="${a}">${label(a)}</option>`)}</select></label>
        <label>From <input name="since" type="date"></label>
        <label>To <input name="until" type="date"></label>
        <button type="submit" class="primary">Show</button>
      </form>
      <div id="audit-entries"></div>`.toString();
    root.querySelector('#audit-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      const values = formValues(event.target);
      view.filters = { ...values, until: values.until ? nextDay(values.until) : '' };
      load().catch((failure) => ctx.toast(failure.message));
    });
    // On the page's own element: the console's root outlives the page, and each visit would add a listener.
    root.querySelector('#audit-entries').addEventListener('click', (event) => {
      if (event.target.closest('[data-action="older"]')) load(true).catch((failure) => ctx.toast(failure.message));
    });
    await load();
  },
};

function entry(e, zone) {
  return html`
    <tr data-key="${e.id}">
      <td><time datetime="${e.at}">${when(e.at, zone)}</time></td>
      <td>${e.actor}</td>
      <td><span class="badge">${label(e.action)}</span> ${label(e.resource)}${e.summary ? html` <strong>${e.summary}</strong>` : ''}</td>
      <td>${e.changes.length ? html`<dl class="changes">${e.changes.filter((c) => !BOOKKEEPING.has(c.field)).map((c) => html`
        <dt>${c.field}</dt><dd>${shown(c.before)} <span aria-label="became">to</span> ${shown(c.after)}</dd>`)}</dl>` : ''}</td>
    </tr>`;
}

// A time as the company's clocks show it (its time zone; the browser's when the zone is unknown to it).
function when(iso, zone) {
  try {
    return new Date(iso).toLocaleString([], { timeZone: zone });
  } catch {
    return new Date(iso).toLocaleString();
  }
}

function shown(value) {
  if (value === null || value === undefined || value === '') return html`<em>none</em>`;
  return html`<code>${typeof value === 'object' ? JSON.stringify(value) : String(value)}</code>`;
}

function label(name) {
  const text = name.replaceAll('_', ' ');
  return text[0].toUpperCase() + text.slice(1);
}

// "To" a date includes that day: the query's until is excluded, so it is the next day.
function nextDay(date) {
  const day = new Date(`${date}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}
