// The interaction panel (middle): the dialer by default, texting, the selected interaction, a lead's timeline
// and, during a call, the caller, the tracking number called, attribution, a timer and the call controls.

import { byAction, byField, byForm, byKey, listen } from './actions.js';
import { api, refusal } from './api.js';
import * as conference from './conference.js';
import { channelIcon, facts, outcomeOf, readingOf } from './facts.js';
import { clock, html, icon, leadName, render, tickTimers, timeOfDay } from './html.js';
import { loadGreeting, profileForm, saveProfile, uploadGreeting, useStandardGreeting } from './profile.js';
import * as softphone from './softphone.js';
import * as transfer from './transfer.js';
import { QUIET, callFor, putInteraction, say, selected, state, subscribe, update } from './store.js';
import {
  canClose, close, closeLabel, conversationOf, conversationView, enterPressed, loadThread, respond, sendReply, typed,
} from './conversations.js';

const KEYPAD = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const CLOSABLE = ['interaction', 'timeline', 'lead', 'profile']; // views with an X (and Escape) back

export function mount(root) {
  listen(root, 'click', ACTIONS, byAction);
  listen(root, 'submit', FORMS, byForm);
  listen(root, 'keydown', KEYS, byKey);
  listen(root, 'input', TYPED, byField);
  listen(root, 'change', PICKED, byField);
  subscribe(load);
  subscribe((s) => render(root, view(s)));
  tickTimers(root); // the call timer
}

// What the panel shows that is not loaded yet is loaded once, into the store: the timeline of the lead on screen,
// the thread of a conversation shown (text, chat, form), my greeting.
function load(s) {
  const leadId = timelineLeadId(s);
  if (leadId !== null && s.timeline.leadId !== leadId) loadTimeline(leadId).catch((error) => say(refusal(error)));
  const shown = shownInteraction(s);
  if (conversationOf(shown) && !s.threads.has(shown.id)) loadThread(shown);
  if (s.view === 'profile' && !s.greeting.known) loadGreeting();
  transfer.load(s);
}

export function showInteraction(id) {
  update((s) => { s.selectedId = id; s.view = 'interaction'; s.quickId = null; });
}

// Answer in the inbox or the panel: the softphone answers when it rings for this call; otherwise (the queue
// offers the call to someone else now) the server brings the call to my device, which answers by itself
// (POST .../answer; a desk phone rings, to be picked up). When the server says my phone rings for it already but the
// softphone has not heard the ring yet, the softphone answers it when it comes.
export async function answerInteraction(interaction) {
  showInteraction(interaction.id);
  if (softphone.answer(interaction.call_id)) return;
  const { ringing_already: ringing } = await api('POST', `/api/v1/interactions/${interaction.id}/answer`);
  if (state.me?.ring_device === 'desk') say('Your desk phone rings: pick it up.', interaction.id);
  else if (ringing) softphone.answerWhenItRings(interaction.call_id);
}

export function fillDialer(number, view) {
  update((s) => { s.dialer.recipient = number; s.view = view; s.quickId = null; });
}

// The call the agent is on: the softphone's, or one it does not carry (shown from the interaction; the app can hang
// it up): on their desk phone, where mute, hold and the keypad are the phone's own, or a call of the softphone's
// while it takes it up again after a reload (the lead waits on hold meanwhile: dialplan lc-agent-left).
function liveCall(s) {
  for (const [callId, call] of s.calls) {
    if (call.state !== 'ringing') return { callId, call };
  }
  if (!s.me) return null;
  const desk = s.me.ring_device === 'desk';
  const elsewhere = [...s.interactions.values()].find((i) => i.kind === 'call' && i.status === 'active'
    && i.agent?.id === s.me.id && i.call_id && !s.calls.has(i.call_id) && (desk || i.direction === 'inbound'));
  return elsewhere ? { callId: elsewhere.call_id, call: { state: 'live',
    since: Date.parse(elsewhere.answered_at || elsewhere.started_at), desk: elsewhere.id,
    where: desk ? 'On your desk phone' : 'Reconnecting your softphone…' } } : null;
}

function view(s) {
  const live = liveCall(s);
  const current = selected(s);
  const closable = CLOSABLE.includes(s.view);
  return html`
    <header class="panel-bar">
      <h2>${titleOf(s, live)}</h2>
      <span class="panel-icons">
        ${s.view === 'interaction' && current ? html`<button class="link" data-action="timeline" data-focus="more">more interactions</button>` : ''}
        <button class="icon ${s.view === 'dialer' ? 'on' : ''}" data-action="view" data-view="dialer" data-focus="to-dialer"
          aria-label="Dialer" title="Dialer">${icon('call')}</button>
        <button class="icon ${s.view === 'text' ? 'on' : ''}" data-action="view" data-view="text" data-focus="to-text"
          aria-label="Texting" title="Texting">${icon('text')}</button>
        ${s.view === 'interaction' && current && canClose(current, s) ? closeButton(current) : ''}
        ${closable ? html`<button class="icon" data-action="close" aria-label="Close" title="Close" data-focus="close">${icon('close')}</button>` : ''}
      </span>
    </header>
    ${transfer.ringing(s)}
    ${live ? callView(s, live) : ''}
    ${body(s, current, live && callInteraction(s, live.callId))}`;
}

// Close text, End Chat, or Close form: the conversation moves to Recent.
function closeButton(interaction) {
  const { label, title } = closeLabel(interaction);
  return html`<button class="icon" data-action="close-conversation" data-id="${interaction.id}" aria-label="${label}"
    title="${title}" data-focus="close-conversation">${icon('check')}</button>`;
}

function titleOf(s, live) {
  if (live) return 'On a call';
  if (s.view === 'lead' && s.lead) return s.lead.name || s.lead.numbers[0] || 'Lead';
  return { dialer: 'Place a call', text: 'Send a text', interaction: 'Interaction', timeline: 'Interactions',
    profile: 'My profile' }[s.view];
}

// The call view says who and which line; the interaction shown under it, when it is that call, does not again.
function body(s, current, onCall) {
  if (s.view === 'text') return textForm(s);
  if (s.view === 'profile') return profileForm(s);
  if (s.view === 'interaction' && current) return current === onCall ? '' : interactionView(current, s);
  if (timelineLeadId(s) !== null) return timelineView(s);
  return dialerForm(s);
}

// The lead whose timeline the panel shows: the selected interaction's ('timeline'), or one opened from a search
// ('lead'); null in the other views.
function timelineLeadId(s) {
  if (s.view === 'timeline') return selected(s)?.lead.id ?? null;
  return s.view === 'lead' ? s.lead?.id ?? null : null;
}

// The interaction whose details the panel shows: the selected one, or the one opened in a timeline.
function shownInteraction(s) {
  if (s.view === 'interaction') return selected(s);
  return timelineLeadId(s) === null ? null : s.timeline.items.find((i) => i.id === s.timeline.detailId) || null;
}

// What the agent is told while a supervisor monitors their call (the company's setting), by the monitor's mode.
const MONITORED = {
  listen: 'A supervisor is listening to this call.',
  whisper: 'A supervisor is listening and can speak to you; the caller does not hear them.',
  barge: 'A supervisor has joined this call: you and the caller hear them.',
};

function callInteraction(s, callId) {
  return [...s.interactions.values()].find((i) => i.call_id === callId) || null;
}

function callView(s, { callId, call }) {
  const interaction = callInteraction(s, callId);
  // An answered lead's call is timed from its answer, also when the softphone took it up again after a reload.
  const since = interaction?.direction === 'inbound' && interaction.answered_at ? Date.parse(interaction.answered_at)
    : call.since;
  return html`
    <section class="call" aria-label="Current call">
      <div class="caller">
        <strong class="caller-id">${interaction ? leadName(interaction) : call.from}</strong>
        ${interaction ? html`<span class="kind">${readingOf(interaction).name}</span>
          ${factList(interaction, { live: true })}` : ''}
      </div>
      <div class="call-state">
        ${call.state === 'live' ? html`<span class="timer" data-since="${since}" role="timer">${clock((Date.now() - since) / 1000)}</span>`
          : html`<span class="timer">Connecting…</span>`}
        ${call.held ? html`<span class="badge">On hold</span>` : ''}
        ${call.muted ? html`<span class="badge">Muted</span>` : ''}
      </div>
      ${interaction && s.monitored.has(interaction.id) ? html`<p class="monitored" role="status">
        ${MONITORED[s.monitored.get(interaction.id)]}</p>` : ''}
      ${call.desk ? html`<div class="controls">
        <button class="danger" data-action="hangup-desk" data-id="${call.desk}" data-focus="hangup">Hang up</button>
        <span class="hint">${call.where}</span>
      </div>` : html`<div class="controls">
        <button class="danger" data-action="hangup" data-call="${callId}" data-focus="hangup">Hang up</button>
        <button data-action="mute" data-call="${callId}" aria-pressed="${String(call.muted)}" data-focus="mute">${call.muted ? 'Unmute' : 'Mute'}</button>
        <button data-action="hold" data-call="${callId}" aria-pressed="${String(call.held)}" data-focus="hold">${call.held ? 'Resume' : 'Hold'}</button>
        <button data-action="keypad" aria-expanded="${String(Boolean(s.keypad))}" data-focus="keypad">Keypad</button>
        ${transfer.button(s, interaction)}
      </div>`}
      ${transfer.dialog(s, interaction)}
      ${interaction ? conference.view(s, interaction) : ''}
      ${s.keypad && !call.desk ? html`<div class="keypad" role="group" aria-label="Keypad">
        ${KEYPAD.map((digit) => html`<button data-action="digit" data-call="${callId}" data-digit="${digit}" data-focus="digit-${digit}">${digit}</button>`)}
      </div>` : ''}
    </section>`;
}

// The interaction's facts under its heading, which names the lead: an unnamed lead's number is not listed again.
function factList(interaction, options) {
  const list = facts(interaction, options)
    .filter(([, value, name]) => !(name === 'lead-number' && value === leadName(interaction)));
  return list.length ? html`<dl class="facts">${list.map(([label, value, name]) => html`<dt>${label}</dt>
    <dd class="${name}">${value}</dd>`)}</dl>` : '';
}

function trackingNumberOptions(s) {
  const chosen = s.dialer.trackingNumberId ?? s.trackingNumbers[0]?.id;
  return s.trackingNumbers.map((n) => html`<option value="${n.id}" ${n.id === chosen ? 'selected' : ''}>${n.name} (${n.number})</option>`);
}

// The Tracking Number dropdown of the dialer and the texting form, with what the recipient will see.
function trackingNumberField(s, focus, hint) {
  return html`
    <label>Tracking Number
      <select name="tracking_number_id" data-focus="${focus}" aria-describedby="${focus}-hint">
        ${trackingNumberOptions(s)}
      </select>
    </label>
    <small id="${focus}-hint">${hint}</small>`;
}

function dialerForm(s) {
  return html`
    <form id="dialer" class="dialer" autocomplete="off">
      <label>Recipient <input name="recipient" type="tel" required value="${s.dialer.recipient}" data-focus="recipient"
        placeholder="+1 404 555 0123"></label>
      ${trackingNumberField(s, 'tracking', 'The number the recipient sees as caller ID.')}
      <label class="check"><input type="checkbox" name="record" ${s.dialer.record ? 'checked' : ''} data-focus="record"> Record call</label>
      <p class="legal">Laws on call recording vary from place to place: make sure one-party recording is legal where
        you and the recipient are, or tell the recipient the call is recorded.</p>
      <button class="primary" type="submit" data-focus="place-call">Place Call</button>
    </form>`;
}

function textForm(s) {
  return html`
    <form id="texting" class="dialer" autocomplete="off">
      <label>To: <input name="recipient" type="tel" required value="${s.dialer.recipient}" data-focus="text-to"></label>
      <label>Message <textarea name="body" required rows="4" maxlength="1600" data-focus="text-body">${s.dialer.message || ''}</textarea></label>
      ${trackingNumberField(s, 'text-tracking', 'The number the recipient sees as the sender.')}
      <p><button class="primary" type="submit" data-focus="send-text">Send Text</button></p>
    </form>`;
}

function interactionView(interaction, s) {
  const call = callFor(interaction, s);
  return html`
    <article class="interaction">
      <h3>${channelIcon(interaction)} ${leadName(interaction)} <small class="kind">${readingOf(interaction).name}</small></h3>
      ${factList(interaction)}
      ${interaction.status === 'incoming' && interaction.kind === 'call' ? html`<p class="actions">
        <button class="primary" data-action="answer" data-id="${interaction.id}">Answer</button>
        ${call?.state === 'ringing' ? html`<span class="ringing" role="status">Ringing</span>` : ''}</p>` : ''}
      ${players(interaction)}
      ${transfer.history(s, interaction)}
      ${interaction.pages ? pageList(interaction) : ''}
      ${conversationOf(interaction) ? conversationView(interaction, s) : ''}
    </article>`;
}

// A website visit's pages, oldest first, as the visitor's browser named them (text, never markup or a link), with
// where the visitor came to each from when it is not the page before.
function pageList({ pages }) {
  return html`<ol class="pages" aria-label="Pages visited">${pages.map((page, n) => html`<li>
    <span class="page-title">${page.title || page.url}</span> <time datetime="${page.at}">${timeOfDay(page.at)}</time>
    <span class="page-url">${page.url}</span>
    ${page.referrer && page.referrer !== pages[n - 1]?.url ? html`<span class="page-referrer">from ${page.referrer}</span>` : ''}
  </li>`)}</ol>`;
}

function players(interaction) {
  return html`
    ${interaction.recording_url ? html`<p><span>Recording</span> <audio controls preload="none" src="${interaction.recording_url}"></audio></p>` : ''}
    ${interaction.voicemail_url ? html`<p><span>Voicemail</span> <audio controls preload="none" src="${interaction.voicemail_url}"></audio></p>` : ''}`;
}

function timelineView(s) {
  const { timeline } = s;
  const detail = shownInteraction(s);
  if (detail) {
    return html`<article class="interaction"><p><button class="link" data-action="timeline-back">${icon('back')} All interactions</button></p>
      ${interactionView(detail, s)}</article>`;
  }
  return html`
    <ol class="timeline">
      ${timeline.loading ? html`<li>Loading…</li>` : ''}
      ${!timeline.loading && !timeline.items.length ? html`<li class="empty">No interactions yet</li>` : ''}
      ${timeline.items.map((i) => html`<li class="kind-${i.kind}" data-key="${i.id}"><button class="link" data-action="timeline-detail" data-id="${i.id}">
        <span>${channelIcon(i)} ${readingOf(i).name}</span>
        <span>${i.pages ? i.source : outcomeOf(i) || i.status}</span><time>${timeOfDay(i.started_at)}</time></button>
        ${i.pages ? pageList(i) : ''}</li>`)}
    </ol>
    ${timeline.next ? html`<p><button class="link" data-action="timeline-older" data-focus="timeline-older">Older interactions</button></p>` : ''}`;
}

// The timeline comes a page at a time, newest first; "Older interactions" appends the next page.
async function loadTimeline(leadId, before = null) {
  update((s) => {
    if (!before) s.timeline = { leadId, items: [], next: null, detailId: null, loading: false };
    s.timeline.loading = true;
  });
  try {
    const query = before ? `?before=${encodeURIComponent(before)}` : '';
    const page = await api('GET', `/api/v1/leads/${leadId}/timeline${query}`);
    update((s) => {
      if (s.timeline.leadId !== leadId) return; // another lead was opened meanwhile
      s.timeline.items = before ? [...s.timeline.items, ...page.items] : page.items;
      s.timeline.next = page.next;
    });
  } finally {
    update((s) => { if (s.timeline.leadId === leadId) s.timeline.loading = false; });
  }
}

async function sendText(form) {
  const sent = await api('POST', '/api/v1/texts', {
    to: String(form.get('recipient') || '').trim(), body: String(form.get('body') || ''),
    tracking_number_id: Number(form.get('tracking_number_id')),
  });
  const thread = await api('GET', `/api/v1/interactions/${sent.interaction_id}`);
  update((s) => {
    putInteraction(s, thread);
    s.selectedId = thread.id;
    s.view = 'interaction';
    s.dialer.message = ''; // the thread shows the text and its delivery from now on
  });
}

async function placeCall(form) {
  const placed = await api('POST', '/api/v1/calls', {
    to: String(form.get('recipient') || '').trim(), tracking_number_id: Number(form.get('tracking_number_id')),
    record: form.get('record') === 'on',
  });
  update((s) => {
    putInteraction(s, placed);
    s.selectedId = placed.id;
    s.view = 'interaction';
  });
}

const stored = (id) => state.interactions.get(Number(id));

// The panel's buttons, by data-action, with their data-* values.
const ACTIONS = {
  // With a lead on screen, the phone and text icons start a call or a text to them (the dialer is filled in).
  view: ({ view }) => update((s) => {
    const number = s.view === 'lead' ? s.lead?.numbers[0]
      : ['interaction', 'timeline'].includes(s.view) ? selected(s)?.lead_number : null;
    if (number) s.dialer.recipient = number;
    s.view = view;
    s.profileSaved = false;
  }),
  close: () => update((s) => { s.view = s.view === 'timeline' ? 'interaction' : 'dialer'; }),
  timeline: () => update((s) => {
    s.timeline.detailId = null;
    s.view = s.view === 'timeline' ? 'interaction' : 'timeline';
  }),
  'timeline-detail': ({ id }) => update((s) => { s.timeline.detailId = Number(id); }),
  'timeline-back': () => update((s) => { s.timeline.detailId = null; }),
  'timeline-older': () => !state.timeline.loading && loadTimeline(state.timeline.leadId, state.timeline.next),
  answer: ({ id }) => answerInteraction(stored(id)),
  respond: ({ id }) => respond(stored(id)),
  'close-conversation': ({ id }) => close(stored(id)),
  hangup: ({ call }) => softphone.hangup(call),
  'hangup-desk': ({ id }) => api('POST', `/api/v1/interactions/${id}/hangup`),
  mute: ({ call }) => softphone.setMuted(call, !state.calls.get(call)?.muted),
  hold: ({ call }) => softphone.setHeld(call, !state.calls.get(call)?.held),
  keypad: () => update((s) => { s.keypad = !s.keypad; }),
  digit: ({ call, digit }) => softphone.sendDigit(call, digit),
  'standard-greeting': useStandardGreeting,
  ...transfer.ACTIONS,
  ...conference.ACTIONS,
};

// The panel's forms, by id.
const FORMS = {
  dialer: (form) => placeCall(new FormData(form)),
  texting: (form) => sendText(new FormData(form)),
  reply: sendReply,
  profile: (form) => saveProfile(new FormData(form)),
  ...transfer.FORMS,
};

const KEYS = {
  // Escape does what the X button does.
  Escape: () => CLOSABLE.includes(state.view) && ACTIONS.close(),
  // Ctrl+Enter sends a text or a chat message; Enter alone makes a new line in a text, and sends a chat message
  // (Shift+Enter: a new line), as in chat apps.
  'Ctrl+Enter': (event) => event.target.form?.id === 'reply' && event.target.form.requestSubmit(),
  Enter: enterPressed,
};

// What the agent types or picks is kept (without a redraw) so that a redraw for a live event shows it again.
const remember = (changes) => update((s) => { Object.assign(s.dialer, changes); }, QUIET);
const TYPED = {
  recipient: (field) => remember({ recipient: field.value }),
  body: (field) => (field.form?.id === 'reply' ? typed(field.form, field.value) : remember({ message: field.value })),
  tracking_number_id: (field) => remember({ trackingNumberId: Number(field.value) }),
  record: (field) => remember({ record: field.checked }),
  ...transfer.TYPED,
};

const PICKED = {
  greeting: (field) => field.files.length && uploadGreeting(field.files[0]),
};
