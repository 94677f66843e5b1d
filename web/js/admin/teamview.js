// Team View: the floor live, for supervisors. Every agent with their presence and for how long, the call they are on
// (lead, number, tracking number, source, talk time), today's handled and missed; every team's queue with callers
// waiting, the longest wait, agents free, today's service level and abandonment; the calls in progress.
// One snapshot (GET /api/v1/team-view), then the event stream only: agent.presence_changed (a row's presence and
// since), interaction.created / interaction.updated (the calls: who is on which, answered_at), queue.updated (a
// queue and its figures of today). Timers tick in the browser from the server's times, corrected by the difference
// between the server's clock and this one (the snapshot's `now`).

import { api, refusal } from '../api.js';
import { clock, html, leadName, render } from '../html.js';
import { monitorControls } from './monitor.js';

const PRESENCE = {
  available: 'Available', ringing: 'Ringing', on_call: 'On a call', wrap_up: 'Wrap-up',
  missed: 'Missed a call', unreachable: 'Unreachable', offline: 'Offline',
};
const CALL_STATES = { incoming: 'Waiting', active: 'On a call' };
const TICK_MS = 1000;

export const page = {
  id: 'team-view',
  title: 'Team View',
  icon: 'live',
  role: 'supervisor',
  async show(root, ctx) {
    const view = {
      loaded: false,
      skew: 0, // the server's clock minus this one, in ms
      agents: new Map(), // agent id -> { agent, teams, wrap_up_call, handled_today, missed_today }
      calls: new Map(), // interaction id -> a call in progress
      queues: new Map(), // team id -> its figures
    };
    const pending = []; // events that came while the snapshot was on its way: applied over it
    const monitors = new Map(); // interaction id -> its monitor buttons
    render(root, html`<h1>Team View</h1>
      <section class="tv-section" aria-labelledby="tv-queues-title"><h2 id="tv-queues-title">Queues</h2><div id="tv-queues"></div></section>
      <section class="tv-section" aria-labelledby="tv-agents-title"><h2 id="tv-agents-title">Agents</h2><div id="tv-agents"></div></section>
      <section class="tv-section" aria-labelledby="tv-calls-title"><h2 id="tv-calls-title">Calls in progress</h2><div id="tv-calls"></div></section>`);

    // Each event, with the server's moment of what it says: one that came while a snapshot was on its way is
    // applied over it only if it is newer (the snapshot has the older ones already).
    const on = (name, apply, moment) => ctx.onEvent(name, (data) => {
      if (!view.loaded) pending.push({ at: Date.parse(moment(data)), apply: () => apply(data) });
      else { apply(data); draw(); }
    });
    const ofAgent = (data) => data.agent.presence_since;
    const ofInteraction = (data) => data.interaction.status_changed_at;
    const stops = [
      on('agent.presence_changed', onAgent, ofAgent),
      on('agent.status_changed', onAgent, ofAgent),
      on('agent.updated', onAgent, ofAgent),
      on('interaction.created', onInteraction, ofInteraction),
      on('interaction.updated', onInteraction, ofInteraction),
      on('queue.updated', onQueue, (data) => data.measured_at),
    ];
    const ticking = setInterval(tick, TICK_MS);

    // The company's date now (its time zone), as the snapshot's `day` says it.
    const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: view.timeZone }).format(new Date(Date.now() + view.skew));

    // Server time -> this browser's epoch ms.
    const local = (iso) => Date.parse(iso) - view.skew;
    const timer = (iso, label) => html`<span class="timer" data-since="${local(iso)}" aria-label="${label}">${clock((Date.now() - local(iso)) / 1000)}</span>`;

    // The snapshot; again when the stream says events were lost (stream.reset: e.g. the controller restarted).
    async function load() {
      view.loaded = false;
      const snapshot = await api('GET', '/api/v1/team-view');
      view.skew = Date.parse(snapshot.now) - Date.now();
      Object.assign(view, { day: snapshot.day, timeZone: snapshot.time_zone });
      view.agents = new Map(snapshot.agents.map((row) => [row.agent.id, row]));
      view.calls = new Map(snapshot.calls.map((call) => [call.id, call]));
      view.queues = new Map(snapshot.queues.map((queue) => [queue.team_id, queue]));
      view.loaded = true;
      const taken = Date.parse(snapshot.now);
      for (const { at, apply } of pending.splice(0)) if (!(at <= taken)) apply();
      draw();
    }
    stops.push(ctx.onEvent('stream.reset', () => load().catch((failure) => ctx.toast(refusal(failure)))));
    const leave = () => {
      stops.forEach((stop) => stop());
      clearInterval(ticking);
    };
    try {
      await load();
    } catch (failure) {
      leave(); // the console says why; nothing of this page stays behind
      throw failure;
    }

    // An agent's resource (each agent event carries it whole): a row's presence and since. Entering "missed" is a
    // call they let ring out.
    function onAgent({ agent }) {
      const row = view.agents.get(agent.id);
      if (!row) return; // not an agent of the floor (yet): a new one shows at the next visit
      if (agent.presence === 'missed' && row.agent.presence !== 'missed') row.missed_today += 1;
      if (agent.presence !== 'wrap_up') row.wrap_up_call = null;
      row.agent = agent;
    }

    // A call moved: in progress, or concluded (then it counts as handled by its agent if they answered it, and it
    // stays on their row while they wrap up).
    function onInteraction({ interaction }) {
      if (interaction.kind !== 'call') return;
      const known = view.calls.get(interaction.id);
      if (interaction.status !== 'recent') {
        view.calls.set(interaction.id, interaction);
        return;
      }
      view.calls.delete(interaction.id);
      const row = interaction.agent && view.agents.get(interaction.agent.id);
      if (known && row && interaction.answered_at) {
        row.handled_today += 1;
        if (interaction.direction === 'inbound') row.wrap_up_call = interaction;
      }
    }

    function onQueue(figures) {
      if (view.queues.has(figures.team_id)) view.queues.set(figures.team_id, figures);
    }

    function tick() {
      // A new day: today's counts start again from the server's.
      if (view.loaded && today() !== view.day) load().catch((failure) => ctx.toast(refusal(failure)));
      root.querySelectorAll('[data-since]').forEach((element) => {
        element.textContent = clock((Date.now() - Number(element.dataset.since)) / 1000);
      });
    }

    function callOf(agentId) {
      for (const call of view.calls.values()) {
        if (call.status === 'active' && call.agent?.id === agentId) return call;
      }
      return null;
    }

    function callSummary(call) {
      const line = call.tracking_number;
      return html`<span class="tv-lead">${leadName(call)}</span>
        ${call.lead.name ? html` <small class="tv-number">${call.lead_number}</small>` : ''}
        ${line ? html`<br><small>to ${line.name || line.number}${line.name ? html` (${line.number})` : ''}</small>` : ''}
        ${call.source ? html` <small class="tv-source">· ${call.source}</small>` : ''}`;
    }

    function agentRow(row) {
      const { agent } = row;
      const onCall = callOf(agent.id);
      const call = onCall || (agent.presence === 'wrap_up' ? row.wrap_up_call : null);
      const talk = onCall?.answered_at ? timer(onCall.answered_at, 'talk time')
        : call?.talk_seconds != null ? html`<span class="tv-talked">${clock(call.talk_seconds)}</span>` : '';
      return html`<tr data-agent="${agent.id}" class="presence-${agent.presence}">
        <td>${agent.display_name}</td>
        <td><span class="presence-badge presence-${agent.presence}">${PRESENCE[agent.presence] || agent.presence}</span>
          ${timer(agent.presence_since, 'for')}</td>
        <td class="tv-call">${call ? callSummary(call) : ''}</td>
        <td class="tv-talk">${talk}</td>
        <td class="num">${row.handled_today}</td>
        <td class="num">${row.missed_today}</td>
      </tr>`;
    }

    function percent(ratio) {
      return ratio == null ? '\u2013' : `${Math.round(ratio * 100)}%`;
    }

    function queueRow(queue) {
      const today = queue.today || {};
      const waiting = queue.callers_waiting > 0 && queue.measured_at;
      const longest = waiting
        ? html`<span class="timer" data-since="${local(queue.measured_at) - queue.longest_wait_seconds * 1000}" aria-label="longest wait">${clock((Date.now() - local(queue.measured_at)) / 1000 + queue.longest_wait_seconds)}</span>`
        : '\u2013';
      const members = Object.values(queue.agents).reduce((sum, n) => sum + n, 0);
      return html`<tr data-key="queue-${queue.team_id}">
        <td>${queue.team_name}</td>
        <td class="num tv-waiting">${queue.callers_waiting}</td>
        <td class="num">${longest}</td>
        <td class="num tv-free">${queue.agents.available ?? 0} <small>of ${members}</small></td>
        <td class="num tv-service-level" title="answered within ${today.service_level_seconds} s, of ${today.offered} calls (short abandons left out)">${percent(today.service_level)}</td>
        <td class="num tv-abandonment">${percent(today.abandonment_rate)}</td>
      </tr>`;
    }

    function callRow(call) {
      const talking = call.status === 'active' && call.answered_at;
      return html`<tr data-key="call-${call.id}">
        <td>${callSummary(call)}</td>
        <td>${CALL_STATES[call.status] || call.status}</td>
        <td>${call.agent?.display_name ?? ''}</td>
        <td class="num">${talking ? timer(call.answered_at, 'talk time') : timer(call.started_at, 'waiting')}</td>
        <td><span class="monitor-slot" data-interaction="${call.id}"></span></td>
      </tr>`;
    }

    function draw() {
      if (!view.loaded) return;
      const queues = [...view.queues.values()];
      render(root.querySelector('#tv-queues'), queues.length ? html`<table class="rows tv-queues">
        <thead><tr><th>Team</th><th class="num">Waiting</th><th class="num">Longest wait</th><th class="num">Agents free</th>
          <th class="num">Service level today</th><th class="num">Abandoned today</th></tr></thead>
        <tbody>${queues.map(queueRow)}</tbody></table>` : html`<p>No teams yet.</p>`);
      const agents = [...view.agents.values()];
      render(root.querySelector('#tv-agents'), agents.length ? html`<table class="rows tv-agents">
        <thead><tr><th>Agent</th><th>State</th><th>Call</th><th>Talk time</th><th class="num">Handled today</th>
          <th class="num">Missed today</th></tr></thead>
        <tbody>${agents.map(agentRow)}</tbody></table>` : html`<p>No agents yet.</p>`);
      const calls = [...view.calls.values()].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
      const area = root.querySelector('#tv-calls');
      render(area, calls.length ? html`<table class="rows tv-calls">
        <thead><tr><th>Lead</th><th>State</th><th>Agent</th><th class="num">Time</th><th>Monitor</th></tr></thead>
        <tbody>${calls.map(callRow)}</tbody></table>` : html`<p>No calls in progress.</p>`);
      fillSlots(area);
    }

    // A call's monitor buttons (monitor.js) are elements of their own, not this page's markup: made once an agent is
    // on the call, and put back in its slot after each redraw (which empties it).
    function fillSlots(area) {
      for (const slot of area.querySelectorAll('.monitor-slot')) {
        const id = Number(slot.dataset.interaction);
        const call = view.calls.get(id);
        if (call?.status !== 'active') continue;
        if (!monitors.has(id)) monitors.set(id, monitorControls(ctx, call));
        if (slot.firstChild !== monitors.get(id)) slot.replaceChildren(monitors.get(id));
      }
      for (const id of monitors.keys()) if (!view.calls.has(id)) monitors.delete(id);
    }

    return leave;
  },
};
