// The inbox (left): my name and availability, Rejoin the Queue, and Incoming / Active / Recent, live.

import { byAction, byField, byForm, byKey, listen } from './actions.js';
import { api } from './api.js';
import { channelIcon, outcomeOf, readingOf } from './facts.js';
import { clock, html, icon, leadName, renderParts, tickTimers, timeOfDay } from './html.js';
import { callFor, inbox, state, subscribe, update } from './store.js';
import { applyAgentNow } from './events.js';
import { answerInteraction, fillDialer, showInteraction } from './panel.js';
import { conversationOf, respond } from './conversations.js';
import * as search from './search.js';

const STATUS_LABELS = {
  on_call: 'Unavailable (on a call)', wrap_up: 'Unavailable (wrap-up)', missed: 'Unavailable (missed a call)',
};
// An agent's presence (GET /agents, agent.presence_changed): their status with their phone's state.
const PRESENCE_LABELS = {
  available: 'Available', ringing: 'Ringing', on_call: 'On a call', wrap_up: 'Wrap-up', missed: 'Missed a call',
  unreachable: 'Unreachable (phone not connected)', offline: 'Offline',
};

export function mount(root) {
  listen(root, 'click', ACTIONS, byAction);
  listen(root, 'change', PICKED, byField);
  listen(root, 'input', TYPED, byField);
  listen(root, 'submit', FORMS, byForm);
  listen(root, 'keydown', KEYS, byKey);
  subscribe((s) => renderParts(root, view(s)));
  tickTimers(root); // the longest wait in my queues
}

function view(s) {
  const box = inbox(s);
  const me = s.me;
  const searching = search.searching(s);
  return {
    me: html`
    <header class="me">
      <span class="me-name">${s.session?.user?.name}</span>
      ${me ? availability(me) : ''}
      ${me?.status_reason === 'wrap_up' || me?.status_reason === 'missed'
        ? html`<button class="primary rejoin" data-action="rejoin" data-focus="rejoin">Rejoin the Queue</button>` : ''}
      ${me?.status_reason === 'missed'
        ? html`<p class="me-note" role="status">A call rang out on your phone, so calls stopped ringing you. Rejoin the Queue when you are back.</p>` : ''}
      ${myVoicemail(box, me)}
      ${me?.presence === 'unreachable'
        ? html`<p class="me-note" role="status">Your ${me.ring_device === 'desk' ? 'desk phone' : 'browser phone'} is not connected: calls cannot ring you.</p>` : ''}
    </header>`,
    colleagues: colleagues(s),
    queues: queueFigures(s),
    search: html`${search.searchBox(s)}${searching ? search.results(s) : ''}`,
    incoming: searching ? '' : section('Incoming', 'incoming', box.incoming, s),
    active: searching ? '' : section('Active', 'active', box.active, s),
    recent: searching ? '' : section('Recent', 'recent', box.recent, s),
  };
}

// The messages waiting in my own mailbox (they are in my Incoming until I mark them handled), counted.
function myVoicemail(box, me) {
  const waiting = me ? box.incoming.filter((i) => i.mailbox_agent_id === me.id).length : 0;
  return waiting ? html`<p class="me-voicemail" role="status">${icon('voicemail')}
    <span class="count">${waiting}</span> new voicemail${waiting === 1 ? '' : 's'}</p>` : '';
}

function availability(me) {
  const unavailable = me.status === 'unavailable';
  return html`
    <label class="sr-only" for="availability">Availability</label>
    <select id="availability" data-focus="availability" class="status-${me.status}">
      ${unavailable ? html`<option value="unavailable" selected disabled>${STATUS_LABELS[me.status_reason] || 'Unavailable'}</option>` : ''}
      <option value="available" ${me.status === 'available' ? 'selected' : ''}>Available</option>
      <option value="offline" ${me.status === 'offline' ? 'selected' : ''}>Offline</option>
    </select>`;
}

// My teams' queues, live: callers waiting and how long the first of them has waited (every queue for a supervisor
// or admin without an agent profile).
function queueFigures(s) {
  const mine = [...s.queues.values()].filter((q) => !s.me || String(s.me.id) in q.agent_states);
  if (!mine.length) return '';
  return html`
    <section class="queues" aria-label="Queues">
      ${mine.map((q) => html`<p class="queue ${q.callers_waiting ? 'waiting' : ''}" data-team="${q.team_id}">
        <span class="name">${q.team_name}</span>: <strong>${q.callers_waiting ? `${q.callers_waiting} waiting` : 'no one waiting'}</strong>
        ${q.callers_waiting ? html` · longest <span class="wait" data-since="${q.since}">${clock((Date.now() - q.since) / 1000)}</span>` : ''}</p>`)}
    </section>`;
}

// The other agents of the company and who can take a call now, live (agent.presence_changed): Available and
// with a phone calls can ring, as the queue counts them and rings them.
function colleagues(s) {
  const others = [...s.agents.values()].filter((a) => a.id !== s.me?.id)
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
  if (!others.length) return '';
  const available = others.filter((a) => a.presence === 'available').length;
  return html`
    <section class="colleagues" aria-label="Team">
      <button class="link" data-action="colleagues" data-focus="colleagues" aria-expanded="${String(Boolean(s.colleaguesOpen))}">
        Team: ${available} of ${others.length} available</button>
      ${s.colleaguesOpen ? html`<ul>${others.map((a) => html`
        <li class="colleague presence-${a.presence}" data-agent="${a.id}"><span class="dot" aria-hidden="true"></span>
          <span class="name">${a.display_name}</span> <small>${PRESENCE_LABELS[a.presence] || a.presence}</small></li>`)}</ul>` : ''}
    </section>`;
}

function section(title, key, items, s) {
  return html`
    <section class="inbox-section" data-section="${key}" aria-label="${title}">
      <h2>${title} <span class="count">${items.length}</span></h2>
      ${items.length ? html`<ul>${items.map((i) => row(i, key, s))}</ul>`
        : html`<p class="empty">${key === 'incoming' && s.me?.status === 'offline' ? 'Offline: no incoming calls' : 'Nothing here'}</p>`}
    </section>`;
}

function row(interaction, key, s) {
  const call = callFor(interaction, s);
  const isSelected = s.selectedId === interaction.id;
  return html`
    <li class="row ${isSelected ? 'selected' : ''}" data-interaction="${interaction.id}">
      ${key === 'recent'
        ? html`<span class="quick"><button class="icon channel" data-action="quick" data-id="${interaction.id}"
              data-focus="quick-${interaction.id}" aria-label="Quick actions for ${leadName(interaction)}"
              aria-expanded="${String(s.quickId === interaction.id)}"><span class="glyph">${channelIcon(interaction)}</span><span class="plus">${icon('plus')}</span></button>
            ${s.quickId === interaction.id ? html`<span class="quick-menu">
              <button data-action="quick-call" data-id="${interaction.id}" data-focus="quick-call-${interaction.id}">${icon('call')} Call</button>
              <button data-action="quick-text" data-id="${interaction.id}">${icon('text')} Text</button></span>` : ''}</span>`
        : html`<span class="icon channel" title="${readingOf(interaction).name}">${channelIcon(interaction)}</span>`}
      <button class="link lead-name" data-action="show" data-id="${interaction.id}" data-focus="show-${interaction.id}">
        ${leadName(interaction)}</button>
      <span class="meta">
        <span class="channel-name">${readingOf(interaction).name}</span>
        ${interaction.lead.name ? html`<span class="number">${interaction.lead_number}</span>` : ''}
        ${interaction.chat ? visit(interaction)
          : html`<span class="tracking">${interaction.tracking_number?.name || ''}</span>${cameFrom(interaction)}`}
        <time datetime="${interaction.started_at}">${timeOfDay(interaction.started_at)}</time>
        ${key === 'recent' ? html`<span class="outcome outcome-${interaction.outcome}">${outcomeOf(interaction)}</span>` : ''}
      </span>
      ${interaction.last_message ? html`<p class="snippet ${interaction.last_message.direction}">${interaction.last_message.body}</p>` : ''}
      ${key === 'incoming' && conversationOf(interaction) ? html`
        <span class="actions">
          <button class="primary respond" data-action="respond" data-id="${interaction.id}" data-focus="respond-${interaction.id}">Respond</button>
        </span>` : ''}
      ${key === 'incoming' && interaction.mailbox_agent_id !== null && interaction.mailbox_agent_id !== undefined ? html`
        <span class="actions">
          <a class="listen" href="${interaction.voicemail_url}" target="_blank" rel="noopener">Listen</a>
          <button class="handled" data-action="handled" data-id="${interaction.id}" data-focus="handled-${interaction.id}">Mark handled</button>
        </span>` : key === 'incoming' && interaction.kind === 'call' ? html`
        <span class="actions">
          <button class="primary answer" data-action="answer" data-id="${interaction.id}" data-focus="answer-${interaction.id}">Answer</button>
          <button class="decline" data-action="decline" data-id="${interaction.id}" data-focus="decline-${interaction.id}">Decline</button>
        </span>` : ''}
      ${call?.state === 'ringing' ? html`<span class="ringing" role="status">Ringing</span>` : ''}
    </li>`;
}

// A chat's (or a form's) row says which page the visitor is on, where they came from, and when they have left.
function visit(interaction) {
  const { chat, status } = interaction;
  return html`
    <span class="page" title="${chat.page_url}">${chat.page_title || chat.page_url}</span>
    ${cameFrom(interaction)}
    ${chat.visitor_left_at && status !== 'recent' ? html`<span class="gone">Visitor left</span>` : ''}`;
}

// Where the lead came from, in short: the source and the campaign (the panel lists the rest).
function cameFrom({ source, campaign }) {
  return source || campaign ? html`<span class="came-from">${source ? html`<span class="source">${source}</span>` : ''}${
    campaign ? html`<span class="campaign" title="Campaign">${campaign}</span>` : ''}</span>` : '';
}

const stored = (id) => state.interactions.get(Number(id));

// The inbox's buttons, by data-action, with their data-* values.
const ACTIONS = {
  show: ({ id }) => showInteraction(Number(id)),
  answer: ({ id }) => answerInteraction(stored(id)),
  decline: ({ id }) => decline(stored(id)),
  respond: ({ id }) => respond(stored(id)),
  handled: ({ id }) => api('POST', `/api/v1/interactions/${Number(id)}/handled`), // the event moves it to Recent
  rejoin: () => choose('available'),
  'open-lead': ({ id }) => search.openLead(Number(id)),
  colleagues: () => update((s) => { s.colleaguesOpen = !s.colleaguesOpen; }),
  quick: ({ id }) => update((s) => { s.quickId = s.quickId === Number(id) ? null : Number(id); }),
  'quick-call': ({ id }) => fillDialer(stored(id).lead_number, 'dialer'),
  'quick-text': ({ id }) => fillDialer(stored(id).lead_number, 'text'),
};

const PICKED = {
  availability: (field) => choose(field.value),
};

const TYPED = {
  q: (field) => search.typed(field.value), // the lead search, as it is typed
};

const FORMS = {
  'lead-search': () => {}, // the search runs as it is typed
};

const KEYS = {
  Escape: (event) => event.target.form?.id === 'lead-search' && search.clear(),
};

async function decline(interaction) {
  update((s) => { s.sections.delete(interaction.id); }); // at once; interaction.declined says it again
  await api('POST', `/api/v1/interactions/${interaction.id}/decline`);
}

async function choose(status) {
  const me = await api('PATCH', '/api/v1/me/agent', { status });
  await applyAgentNow(me);
}
