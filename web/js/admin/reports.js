// Reports: how the team and the marketing did over a period (the last 7, 30 or 90 days, or days chosen), for the
// company, a team or an agent, each figure beside the previous period of the same length. KPI tiles (their
// definitions are the API's own: the descriptions of the KPIs' schema in /api/openapi.json, which docs/kpis.md says
// in words), then charts drawn with Chart.js (bundled at set-up into /vendor/chart.js, loaded only by this page),
// each with its series' CSV (GET /api/v1/reports/<series>.csv, the same query).

import { api } from '../api.js';
import { html, render } from '../html.js';
import { saveForm } from './forms.js';

const PRESETS = [7, 30, 90];
const DAY_MS = 86400000;
const GROUPS = { source: 'Source', campaign: 'Campaign', keywords: 'Keywords', medium: 'Medium', landing_page: 'Landing page' };
const CHANNELS = { call: 'Calls', text: 'Texts', chat: 'Chats', voicemail: 'Voicemail', form: 'Forms', visit: 'Visits' };
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const COLOURS = ['#1a73e8', '#e37400', '#188038', '#a142f4', '#d93025', '#12b5cb'];
const PREVIOUS = '#b0b7c3';
const TOP_VALUES = 10;

// The tiles: where the figure is in GET /kpis, how to show it, which way is better, and the fields whose schema
// descriptions define it.
const TILES = [
  { id: 'service_level', title: 'Service level', at: ['queue', 'service_level'], as: 'percent', better: 'up',
    note: (k) => (k.queue.service_level_seconds.length ? `answered within ${k.queue.service_level_seconds.join(' / ')} s` : 'no queue calls'),
    defined: [['QueueKpis', 'answered_within_threshold'], ['QueueKpis', 'service_level'], ['QueueKpis', 'short_abandons']] },
  { id: 'average_speed_of_answer', title: 'Average speed of answer', at: ['queue', 'average_speed_of_answer_seconds'],
    as: 'seconds', better: 'down', note: (k) => `${k.queue.answered} answered of ${k.queue.offered} queue calls`,
    defined: [['QueueKpis', 'average_speed_of_answer_seconds'], ['QueueKpis', 'offered']] },
  { id: 'abandonment_rate', title: 'Abandonment rate', at: ['queue', 'abandonment_rate'], as: 'percent', better: 'down',
    note: (k) => `${k.queue.abandoned} abandoned, ${k.queue.short_abandons} short abandons apart`,
    defined: [['QueueKpis', 'abandoned'], ['QueueKpis', 'abandonment_rate'], ['QueueKpis', 'short_abandons']] },
  { id: 'average_handle_time', title: 'Average handle time', at: ['handling', 'average_handle_time_seconds'],
    as: 'seconds', better: 'down',
    note: (k) => `talk ${seconds(k.handling.average_talk_seconds)}, hold ${seconds(k.handling.average_hold_seconds)}, wrap-up ${seconds(k.handling.average_wrap_up_seconds)}`,
    defined: [['HandlingKpis', 'average_talk_seconds'], ['HandlingKpis', 'average_hold_seconds'],
      ['HandlingKpis', 'average_wrap_up_seconds'], ['HandlingKpis', 'average_handle_time_seconds']] },
  { id: 'missed', title: 'Missed calls', at: ['missed', 'missed'], as: 'count', better: 'down',
    note: (k) => `${k.missed.voicemail} to voicemail`, defined: [['MissedKpis', 'missed'], ['MissedKpis', 'voicemail']] },
  { id: 'handled', title: 'Calls handled', at: ['handling', 'handled'], as: 'count', better: 'up',
    note: (k) => `${k.outbound.attempts} placed, ${k.outbound.connects} connected`,
    defined: [['HandlingKpis', null], ['OutboundKpis', 'attempts'], ['OutboundKpis', 'connects']] },
  { id: 'text_first_response', title: 'Texts: first response', at: ['texts', 'average_first_response_seconds'],
    as: 'seconds', better: 'down',
    note: (k) => `${k.texts.episodes} texts, resolved in ${seconds(k.texts.average_resolution_seconds)}`,
    defined: [['ConversationKpis', null], ['ConversationKpis', 'average_first_response_seconds'],
      ['ConversationKpis', 'average_resolution_seconds']] },
  { id: 'chat_first_response', title: 'Chats: first response', at: ['chats', 'average_first_response_seconds'],
    as: 'seconds', better: 'down',
    note: (k) => `${k.chats.episodes} chats, resolved in ${seconds(k.chats.average_resolution_seconds)}`,
    defined: [['ConversationKpis', null], ['ConversationKpis', 'average_first_response_seconds'],
      ['ConversationKpis', 'average_resolution_seconds']] },
];

let definitions = null; // the OpenAPI document's schemas, loaded once

export const page = {
  id: 'reports',
  title: 'Reports',
  icon: 'reports',
  role: 'supervisor',
  async show(root, ctx) {
    const [{ Chart }, company, teams, agents, openapi] = await Promise.all([
      import('/vendor/chart.js'),
      api('GET', '/api/v1/company'),
      api('GET', '/api/v1/teams'),
      api('GET', '/api/v1/agents'),
      definitions ? Promise.resolve(null) : api('GET', '/api/openapi.json'),
    ]);
    if (openapi) definitions = openapi.components.schemas;
    const today = localToday(company.time_zone);
    const view = { days: 30, since: addDays(today, -29), until: today, team_id: '', agent_id: '', group: 'source' };
    const charts = new Map(); // canvas id -> Chart
    let drawing = 0; // the latest request: an older answer that comes back late is dropped

    root.innerHTML = html`
      <h1>Reports</h1>
      <form id="report-filters" class="panel-box report-filters" aria-label="What to report">
        <div class="form-row">
          <label>Period <select name="days" aria-label="Period">
            ${PRESETS.map((n) => html`<option value="${n}" ${n === view.days ? 'selected' : ''}>Last ${n} days</option>`)}
            <option value="custom">Custom</option></select></label>
          <label>From <input type="date" name="since" value="${view.since}" max="${today}" disabled></label>
          <label>To <input type="date" name="until" value="${view.until}" max="${today}" disabled></label>
          <label>Team <select name="team_id" aria-label="Team"><option value="">All teams</option>
            ${teams.map((t) => html`<option value="${t.id}">${t.name}</option>`)}</select></label>
          <label>Agent <select name="agent_id" aria-label="Agent"><option value="">All agents</option>
            ${agents.map((a) => html`<option value="${a.id}">${a.display_name}</option>`)}</select></label>
        </div>
        <p class="hint" id="report-period"></p>
        <p role="alert"></p>
      </form>
      <section class="kpi-tiles" id="kpi-tiles" aria-label="KPIs"></section>
      ${chartBox('channels', 'Interactions over time by channel', ['channels-chart'])}
      ${chartBox('attribution', 'Where the leads came from', ['attribution-chart'], html`
        <label class="inline">By <select name="group" form="report-filters">
          ${Object.entries(GROUPS).map(([value, text]) => html`<option value="${value}">${text}</option>`)}</select></label>`,
        html`<div id="attribution-table"></div>`)}
      ${chartBox('agents', 'By agent: handled, handle time, qualified', ['agents-chart'])}
      ${chartBox('hours', 'When leads reach you: hour of the day and day of the week', ['hours-chart', 'weekdays-chart'])}
      ${chartBox('missed', 'Missed and abandoned calls by hour', ['missed-chart'], '', html`<p class="hint" id="missed-note" hidden>Missed and abandoned calls have no agent: choose all agents to see them (a team's are its queue's).</p>`)}
      <section class="panel-box" aria-labelledby="weekly-heading">
        <h2 id="weekly-heading">Weekly summary email</h2>
        <div id="weekly-summary"></div>
      </section>
    `.toString();
    const form = root.querySelector('#report-filters');

    // On the page's root (fresh for each visit): the series' own controls are the form's by their form attribute.
    root.addEventListener('change', (event) => {
      if (event.target.form !== form) return;
      const { name, value } = event.target;
      if (name === 'days') {
        const custom = value === 'custom';
        form.elements.since.disabled = form.elements.until.disabled = !custom;
        if (!custom) {
          view.days = Number(value);
          view.until = today;
          view.since = addDays(today, 1 - view.days);
          form.elements.since.value = view.since;
          form.elements.until.value = view.until;
        }
      } else if (name === 'since' || name === 'until') {
        if (!form.elements.since.value || !form.elements.until.value) return;
        view.since = form.elements.since.value;
        view.until = form.elements.until.value;
      } else if (name === 'team_id' && value) {
        form.elements.agent_id.value = ''; // a team or an agent, as the API asks
      } else if (name === 'agent_id' && value) {
        form.elements.team_id.value = '';
      }
      view.team_id = form.elements.team_id.value;
      view.agent_id = form.elements.agent_id.value;
      view.group = form.elements.group.value;
      refresh();
    });
    form.addEventListener('submit', (event) => event.preventDefault());

    function refresh() {
      draw().catch((failure) => {
        form.querySelector('[role=alert]').textContent = failure.message;
      });
    }

    // The query of a period (and the scope chosen); each series adds its own.
    function query(since, until, extra = {}) {
      const q = new URLSearchParams({ since, until, ...extra });
      if (view.team_id) q.set('team_id', view.team_id);
      if (view.agent_id) q.set('agent_id', view.agent_id);
      return q.toString();
    }

    async function draw() {
      const ticket = ++drawing;
      form.querySelector('[role=alert]').textContent = '';
      const length = daysBetween(view.since, view.until) + 1;
      if (length < 1) throw new Error('The period ends before it begins.');
      const before = { since: addDays(view.since, -length), until: addDays(view.since, -1) };
      const interval = length > 120 ? 'month' : length > 45 ? 'week' : 'day';
      const noMissed = Boolean(view.agent_id);
      const both = (path, extra) => Promise.all([view, before].map((p) => api('GET', `${path}?${query(p.since, p.until, extra)}`)));
      const none = Promise.resolve([null, null]);
      const [kpis, channels, attribution, agentRows, hours, missed] = await Promise.all([
        both('/api/v1/kpis'),
        both('/api/v1/reports/channels', { interval }),
        both('/api/v1/reports/attribution', { group: view.group }),
        both('/api/v1/reports/agents'),
        both('/api/v1/reports/hours'),
        noMissed ? none : both('/api/v1/reports/missed'),
      ]);
      if (ticket !== drawing || !root.isConnected) return;
      const [now] = kpis;
      root.querySelector('#report-period').textContent = `${long(view.since)} to ${long(view.until)} (${length} days, `
        + `${now.period.time_zone.replaceAll('_', ' ')}), compared with the ${length} days before: `
        + `${long(before.since)} to ${long(before.until)}.`;
      render(root.querySelector('#kpi-tiles'), TILES.map((tile) => kpiTile(tile, ...kpis, length)));
      const extras = { channels: { interval }, attribution: { group: view.group } };
      for (const series of ['channels', 'attribution', 'agents', 'hours', 'missed']) {
        const link = root.querySelector(`[data-csv="${series}"]`);
        link.href = `/api/v1/reports/${series}.csv?${query(view.since, view.until, extras[series])}`;
        link.hidden = series === 'missed' && noMissed;
      }
      root.querySelector('#missed-note').hidden = !noMissed;
      chart('channels-chart', channelChart(channels, interval, view, before));
      chart('attribution-chart', attributionChart(attribution));
      render(root.querySelector('#attribution-table'), attributionTable(attribution[0].rows, view.group));
      chart('agents-chart', agentChart(agentRows));
      chart('hours-chart', hourChart(hours));
      chart('weekdays-chart', weekdayChart(hours));
      chart('missed-chart', noMissed ? null : missedChart(missed));
    }

    function chart(id, config) {
      const canvas = root.querySelector(`#${id}`);
      const shown = charts.get(id);
      canvas.closest('.chart').hidden = !config;
      if (!config) return;
      if (shown) {
        shown.data = config.data;
        shown.options = config.options;
        shown.update();
      } else {
        charts.set(id, new Chart(canvas, config));
      }
      canvas.dataset.drawn = 'true'; // for the tests: the chart has its data
    }

    await Promise.all([draw(), weeklySummary(root.querySelector('#weekly-summary'), ctx)]);
    return () => {
      drawing += 1;
      for (const shown of charts.values()) shown.destroy();
    };
  },
};

// The weekly summary's setting: admins turn it on and name its recipients; supervisors see it.
async function weeklySummary(box, ctx) {
  const shown = await api('GET', '/api/v1/reports/weekly-summary');
  const zone = shown.time_zone.replaceAll('_', ' ');
  box.innerHTML = html`
    <p class="hint">Each Monday at midnight (${zone}) the week that ended goes to these addresses: its KPIs against the week
      before, the top sources and a line per agent.${shown.email_on ? '' : html` <strong>This server has no mail server set ([smtp] in the configuration): nothing is sent until it has.</strong>`}</p>
    <form id="weekly-summary-form" novalidate>
      <label><input type="checkbox" name="enabled" ${shown.enabled ? 'checked' : ''}> Send the weekly summary</label>
      <label>Recipients <small>(one address a line)</small>
        <textarea name="recipients" rows="3" autocomplete="off">${shown.recipients.join('\n')}</textarea></label>
      <p class="hint" id="weekly-last">${shown.last_week ? `Last week summarised: the week from Monday ${shown.last_week}.` : ''}</p>
      <div class="actions"><button type="submit" class="primary">Save</button></div>
      <p role="alert"></p>
    </form>
    ${ctx.canEdit() ? '' : html`<p class="read-only">Only admins change who gets the summary.</p>`}`.toString();
  const form = box.querySelector('form');
  if (!ctx.canEdit()) form.querySelectorAll('input, textarea, button').forEach((control) => { control.disabled = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const saved = await saveForm(form, (values) => api('PUT', '/api/v1/reports/weekly-summary', {
      enabled: values.enabled,
      recipients: values.recipients.split(/[\s,;]+/).filter(Boolean),
    }));
    if (!saved) return;
    form.elements.recipients.value = saved.recipients.join('\n');
    ctx.toast(saved.enabled ? `The weekly summary goes to ${saved.recipients.join(', ')}` : 'The weekly summary is off');
  });
}

function chartBox(series, title, canvases, controls = '', after = '') {
  return html`
    <section class="panel-box report-chart" aria-labelledby="${series}-heading" data-series="${series}">
      <div class="chart-head">
        <h2 id="${series}-heading">${title}</h2>
        ${controls}
        <a class="button" data-csv="${series}" download>Download CSV</a>
      </div>
      <div class="charts">${canvases.map((id) => html`<div class="chart"><canvas id="${id}" role="img" aria-label="${title}"></canvas></div>`)}</div>
      ${after}
    </section>`;
}

function kpiTile(tile, now, before, length) {
  const value = tile.at.reduce((at, key) => at[key], now);
  const previous = tile.at.reduce((at, key) => at[key], before);
  return html`
    <article class="kpi-tile" data-kpi="${tile.id}">
      <h3>${tile.title}</h3>
      <p class="kpi-value">${shown(value, tile.as)}</p>
      <p class="kpi-compare ${trend(value, previous, tile.better)}">${change(value, previous, tile.as)}
        <small>vs ${shown(previous, tile.as)} the ${length} days before</small></p>
      <p class="kpi-note">${tile.note(now)}</p>
      <details class="kpi-help"><summary>How it is counted</summary><dl>${tile.defined.map(([schema, field]) => definition(schema, field))}</dl></details>
    </article>`;
}

// A figure's definition: the description of its field (or of its schema, field null) in the API's document.
function definition(schema, field) {
  const found = definitions?.[schema];
  const text = field ? found?.properties?.[field]?.description : found?.description;
  if (!text) return '';
  return html`<dt>${field ? field.replaceAll('_', ' ') : 'counted'}</dt><dd>${text}</dd>`;
}

function trend(value, previous, better) {
  if (value == null || previous == null || value === previous) return 'same';
  return (value > previous) === (better === 'up') ? 'better' : 'worse';
}

function change(value, previous, as) {
  if (value == null || previous == null) return 'no comparison';
  const by = value - previous;
  if (by === 0) return 'no change';
  const sign = by > 0 ? '+' : '\u2212';
  if (as === 'percent') return `${sign}${Math.abs(by * 100).toFixed(1)} pts`;
  if (as === 'seconds') return `${sign}${seconds(Math.abs(by))}`;
  return `${sign}${Math.abs(by)}`;
}

function shown(value, as) {
  if (value == null) return '\u2014';
  if (as === 'percent') return `${(value * 100).toFixed(1)}%`;
  if (as === 'seconds') return seconds(value);
  return String(value);
}

function seconds(value) {
  if (value == null) return '\u2014';
  if (value < 60) return `${Math.round(value * 10) / 10} s`;
  const whole = Math.round(value);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

// -- the charts' configurations --------------------------------------------------------------------------------

const BASE = { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false } };

function bar(label, data, colour, extra = {}) {
  return { type: 'bar', label, data, backgroundColor: colour, borderColor: colour, ...extra };
}

function previousLine(data, extra = {}) {
  return { type: 'line', label: 'Previous period', data, borderColor: PREVIOUS, backgroundColor: PREVIOUS, borderDash: [6, 4], pointRadius: 0, ...extra };
}

// The buckets of a period: its days, weeks (from their Monday) or months, as the API names them.
function buckets(since, until, interval) {
  const out = [];
  let day = interval === 'week' ? addDays(since, -((weekday(since) + 6) % 7)) : interval === 'month' ? `${since.slice(0, 7)}-01` : since;
  while (day <= until) {
    out.push(day);
    day = interval === 'month' ? nextMonth(day) : addDays(day, interval === 'week' ? 7 : 1);
  }
  return out;
}

function channelChart([now, before], interval, period, previous) {
  const labels = buckets(period.since, period.until, interval);
  const earlier = buckets(previous.since, previous.until, interval);
  const channels = [...new Set(now.rows.map((r) => r.channel))];
  const count = (rows, day, channel) => rows.filter((r) => r.period === day && (!channel || r.channel === channel))
    .reduce((sum, r) => sum + r.interactions, 0);
  return {
    type: 'bar',
    data: {
      labels: labels.map(short),
      datasets: [
        ...channels.map((channel, i) => bar(CHANNELS[channel] || channel, labels.map((d) => count(now.rows, d, channel)), COLOURS[i % COLOURS.length], { stack: 'now' })),
        previousLine(labels.map((_, i) => (i < earlier.length ? count(before.rows, earlier[i]) : null))),
      ],
    },
    options: { ...BASE, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'interactions' } } } },
  };
}

function attributionChart([now, before]) {
  const rows = now.rows.slice(0, TOP_VALUES);
  const earlier = new Map(before.rows.map((r) => [r.value, r.interactions]));
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.value || '(unknown)'),
      datasets: [
        bar('Interactions', rows.map((r) => r.interactions), COLOURS[0]),
        bar('Qualified', rows.map((r) => r.qualified), COLOURS[2]),
        bar('Previous period', rows.map((r) => earlier.get(r.value) ?? 0), PREVIOUS),
        { type: 'line', label: 'Qualified rate (%)', data: rows.map((r) => (r.qualified_rate == null ? null : r.qualified_rate * 100)), borderColor: COLOURS[1], backgroundColor: COLOURS[1], yAxisID: 'rate' },
      ],
    },
    options: { ...BASE, scales: { y: { beginAtZero: true }, rate: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: 'qualified %' } } } },
  };
}

function attributionTable(rows, group) {
  if (!rows.length) return html`<p class="hint">No interactions in the period.</p>`;
  return html`<table class="rows attribution-rows">
    <thead><tr><th>${GROUPS[group]}</th><th>Interactions</th><th>Qualified</th><th>Qualified rate</th><th>Value</th></tr></thead>
    <tbody>${rows.slice(0, TOP_VALUES).map((r) => html`<tr data-key="${r.value}">
      <td>${r.value || '(unknown)'}</td><td>${r.interactions}</td><td>${r.qualified}</td>
      <td>${shown(r.qualified_rate, 'percent')}</td><td>${money(r.value_cents)}</td></tr>`)}</tbody></table>`;
}

function agentChart([now, before]) {
  const earlier = new Map(before.rows.map((r) => [r.agent_id, r.handled]));
  return {
    type: 'bar',
    data: {
      labels: now.rows.map((r) => r.agent_name || `Agent ${r.agent_id}`),
      datasets: [
        bar('Handled', now.rows.map((r) => r.handled), COLOURS[0]),
        bar('Qualified', now.rows.map((r) => r.qualified), COLOURS[2]),
        bar('Handled, previous period', now.rows.map((r) => earlier.get(r.agent_id) ?? 0), PREVIOUS),
        { type: 'line', label: 'Average handle time (s)', data: now.rows.map((r) => r.average_handle_time_seconds), borderColor: COLOURS[1], backgroundColor: COLOURS[1], yAxisID: 'seconds' },
      ],
    },
    options: { ...BASE, scales: { y: { beginAtZero: true }, seconds: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'AHT (s)' } } } },
  };
}

function sumBy(rows, key, size, field) {
  const out = Array(size).fill(0);
  for (const r of rows) out[key(r)] += r[field];
  return out;
}

function hourChart([now, before]) {
  const hours = [...Array(24).keys()];
  return {
    type: 'bar',
    data: {
      labels: hours.map((h) => `${String(h).padStart(2, '0')}:00`),
      datasets: [
        bar('Inbound interactions', sumBy(now.rows, (r) => r.hour, 24, 'interactions'), COLOURS[0]),
        previousLine(sumBy(before.rows, (r) => r.hour, 24, 'interactions')),
      ],
    },
    options: { ...BASE, plugins: { title: { display: true, text: 'By hour of the day' } }, scales: { y: { beginAtZero: true } } },
  };
}

function weekdayChart([now, before]) {
  return {
    type: 'bar',
    data: {
      labels: WEEKDAYS,
      datasets: [
        bar('Inbound interactions', sumBy(now.rows, (r) => r.weekday - 1, 7, 'interactions'), COLOURS[0]),
        previousLine(sumBy(before.rows, (r) => r.weekday - 1, 7, 'interactions')),
      ],
    },
    options: { ...BASE, plugins: { title: { display: true, text: 'By day of the week' } }, scales: { y: { beginAtZero: true } } },
  };
}

function missedChart([now, before]) {
  const hours = [...Array(24).keys()];
  const of = (field) => sumBy(now.rows, (r) => r.hour, 24, field);
  const earlier = sumBy(before.rows, (r) => r.hour, 24, 'missed').map((n, h) => n + sumBy(before.rows, (r) => r.hour, 24, 'abandoned')[h]);
  return {
    type: 'bar',
    data: {
      labels: hours.map((h) => `${String(h).padStart(2, '0')}:00`),
      datasets: [
        bar('Missed', of('missed'), COLOURS[4], { stack: 'now' }),
        bar('Abandoned', of('abandoned'), COLOURS[1], { stack: 'now' }),
        bar('Short abandons', of('short_abandons'), '#fbbc04', { stack: 'now' }),
        bar('Voicemail', of('voicemail'), COLOURS[3], { stack: 'now' }),
        previousLine(earlier, { label: 'Missed + abandoned, previous period' }),
      ],
    },
    options: { ...BASE, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'calls' } } } },
  };
}

// -- days --------------------------------------------------------------------------------------------------------

// Today in the company's time zone (the API's days are the company's), as YYYY-MM-DD.
function localToday(zone) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

const utc = (day) => Date.parse(`${day}T00:00:00Z`);
const addDays = (day, n) => new Date(utc(day) + n * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (a, b) => Math.round((utc(b) - utc(a)) / DAY_MS);
const weekday = (day) => new Date(utc(day)).getUTCDay();
const nextMonth = (day) => {
  const d = new Date(utc(day));
  d.setUTCMonth(d.getUTCMonth() + 1);
  return d.toISOString().slice(0, 10);
};
const short = (day) => new Date(utc(day)).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
const long = (day) => new Date(utc(day)).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
const money = (cents) => (cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
