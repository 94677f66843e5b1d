// The one client-side store: everything the app knows and every area renders from. Its shape is declared here,
// each field with what it holds, and no other module keeps state of its own. Every change goes through update():
// from the areas' actions, the event stream (events.js), the softphone and the effects. Subscribers run once per
// batch of changes, and they are of two kinds: views, which render an area from the state (and never load or
// change anything), and effects, which load what the state says is on screen but is not loaded yet, into the
// state through update(). Nothing else redraws. tests/unit/test_web_js.py checks these rules.

// Calls' media with Asterisk's host candidates only (loopback, LAN): no TURN relay, never a public STUN server.
export const NO_RELAY = Object.freeze({ iceServers: [], iceTransportPolicy: 'all' });

export const state = {
  // -- who is signed in, and the company's reference data
  session: null,            // GET /api/v1/session (and every answer that returns a session): the user, their
                            // companies, the company picked, invitations, the CSRF token api.js sends
  signInError: '',          // why the last sign-in failed, under the form
  startedAt: null,          // when the app started for the company picked (epoch ms): areas mounted, stream and
                            // softphone started; once a page (switching company loads the page again)
  me: null,                 // my agent profile (GET /api/v1/me/agent: status, status_reason, presence,
                            // ring_device, chat_display_name); null for a supervisor or admin without one
  agents: new Map(),        // my colleagues by id (GET /api/v1/agents), live: status, presence
  queues: new Map(),        // team id -> live queue figures (GET /api/v1/queues, then queue.updated), with since:
                            // when the longest-waiting caller started waiting (epoch ms, for the ticking wait)
  trackingNumbers: [],      // the company's tracking numbers (the dialer's and the texting form's dropdown)
  tags: [],                 // the company's tag names, sorted (classification's suggestions)

  // -- interactions, my inbox, leads
  interactions: new Map(),  // by id, as the API answers them
  sections: new Map(),      // id -> where the interaction is in my inbox: incoming | active | recent (absent: not
                            // in it); as GET /api/v1/inbox says, then as each interaction event places it (the
                            // server decides; the app keeps no copy of its rule)
  threads: new Map(),       // conversations' messages (texts, chats, forms) by interaction id, once shown (null
                            // while loading)
  replies: new Map(),       // what I am typing in each conversation, by interaction id: {body, hint (the parts)}
  monitored: new Map(),     // my calls a supervisor is listening to now, when the company tells agents: interaction
                            // id -> the monitor's mode (listen | whisper | barge), from the monitor.* events
  typing: new Set(),        // the chats whose visitor is typing now (chat.visitor_typing, for a few seconds)
  typingSentAt: new Map(),  // chat id -> when its visitor was last told I am typing (epoch ms), to tell them
                            // at most every few seconds
  leads: new Map(),         // leads by id as GET /api/v1/leads/<id> answers, once on screen (null while loading)

  // -- what is on screen
  view: 'dialer',           // the interaction panel: dialer | text | interaction | timeline | lead | profile
  selectedId: null,         // the interaction shown in the panel, contact details and classification
  lead: null,               // the lead whose timeline the panel shows in the 'lead' view (opened from a search)
  timeline: { leadId: null, items: [], next: null, detailId: null, loading: false }, // the panel's timeline: the
                            // lead's id, its interactions loaded (newest first), the older page's cursor, the one
                            // opened, and whether a page is on its way
  quickId: null,            // the Recent row whose quick actions (call, text) are open
  keypad: false,            // the call view's keypad is open
  colleaguesOpen: false,    // the inbox's Team list (colleagues' availability) is open
  transfer: { open: false, number: '', asked: new Set() }, // the call view's Transfer dialog (transfer.js): open,
                            // the number typed; the interactions of calls transferred to me already asked for
  search: { query: '', found: [], loading: false, error: '' }, // lead search (inbox); found: leads as the API has them
  dialer: { recipient: '', message: '', trackingNumberId: null, record: false }, // what is typed and picked in the
                            // dialer and the texting form (they share the recipient)
  contact: { leadId: null, editing: null, problems: {} }, // contact details: the lead they are about, the field
                            // being edited and what is typed in it {field, value}, and by field why the server
                            // refused the value last saved
  classification: { id: null, typed: {}, saving: 'idle', refused: null }, // the interaction whose fields are being
                            // typed, what is typed by field (notes, tag, value), its notes' saving: idle | pending |
                            // saving | saved | failed; refused: {id, text}, why the last change to an interaction was
                            // not saved, until one is
  greeting: { known: false, custom: false, version: 0, status: '' }, // my voicemail greeting (profile): asked the
                            // server yet, mine or the standard one, the version to play, how the last change went
  profileSaved: false,      // my profile was saved since it was opened
  notice: null,             // the banner under the status bar: {text, about (an interaction id or null), place,
                            // status}; transient (see say())

  // -- the softphone and the browser
  softphone: { status: 'off', error: '' }, // off | connecting | registered | unregistered | failed
  calls: new Map(),         // my softphone's calls by call id: {state: ringing|connecting|live, muted, held, since,
                            // from, interaction (a transferred call's id, X-LC-Interaction)}
  phone: { ua: null, sessions: new Map(), heard: new WeakSet(), rtc: NO_RELAY, answering: new Map() }, // JsSIP:
                            // the user agent, the call sessions by call id, the peer connections whose audio is
                            // played, how calls' media get through (RTCPeerConnection's configuration: the TURN
                            // relays, see softphone.js), and the calls answered before their ring came (until when)
  microphone: 'unknown',    // granted | denied | missing | unknown
  ringer: null,             // the ring playing in a background tab: {audio (an AudioContext), cadence (interval)}
  alerted: new Set(),       // the ringing calls (call id) and conversations' messages (id:time) a desktop
                            // notification (or a chat's chime) was given for

  // -- the event stream
  connection: 'connecting', // the event stream: connecting | live | lost
  stream: { socket: null, checkpoint: null, retries: 0, stopped: true, applying: Promise.resolve() }, // its
                            // websocket, {stream, seq} to resume from, reconnects since the last hello, whether it
                            // was stopped, and the frames being applied in order
};

const listeners = new Set();
const timers = new Map(); // name -> the timeout of the work waiting under that name (later())
let pending = false;

// Every change to the state: change(state) runs at once; the subscribers run once for all the changes made before
// the next microtask. With QUIET, a change no screen shows differently: text as it is typed (the field shows it
// already, and a redraw would replace the field under the typist), the handles the app holds, what it has rung.
export function update(change, { redraw = true } = {}) {
  change(state);
  if (!redraw || pending) return;
  pending = true;
  // Not once a frame (requestAnimationFrame): headless tabs on a busy machine get few frames, and a row then
  // waited a median 100 ms to be drawn (bench browser).
  queueMicrotask(() => {
    pending = false;
    expireNotice(state);
    [...listeners].forEach((listener) => listener(state));
  });
}

export const QUIET = Object.freeze({ redraw: false });

export function subscribe(listener) {
  listeners.add(listener);
  listener(state);
  return () => listeners.delete(listener);
}

// Work to do once typing pauses (a search, notes saved as typed, a draft's count) or after a delay (a reconnect):
// one waits under each name, and a new one replaces it.
export function later(name, ms, work) {
  clearTimeout(timers.get(name));
  timers.set(name, setTimeout(() => { timers.delete(name); work(); }, ms));
}

export function cancel(name) {
  clearTimeout(timers.get(name));
  timers.delete(name);
}

// -- notices: transient, they go when their subject moves on -------------------------------------------------
// A notice is about where the agent was when it appeared (the panel's view and the interaction or lead in it)
// and, when said so, about one interaction: it goes when the agent moves elsewhere, when that interaction moves on
// (its status or outcome changes), or when dismissed.

export function say(text, about = null) {
  update((s) => { s.notice = { text, about, place: null, status: null }; });
}

const placeOf = (s) => `${s.view}:${s.view === 'lead' ? s.lead?.id : s.selectedId}`;

function statusOf(s, id) {
  const interaction = id === null ? null : s.interactions.get(id);
  return interaction ? `${interaction.status}:${interaction.outcome}` : null;
}

// Where and about what a notice was said is taken once the changes made with it are in (say() then a new view:
// the notice is about the new view).
function expireNotice(s) {
  const { notice } = s;
  if (!notice) return;
  if (notice.place === null) {
    notice.place = placeOf(s);
    notice.status = statusOf(s, notice.about);
  } else if (notice.place !== placeOf(s) || notice.status !== statusOf(s, notice.about)) {
    s.notice = null;
  }
}

// -- my inbox: where the server places each interaction --------------------------------------------------------

const newestFirst = (a, b) => b.status_changed_at.localeCompare(a.status_changed_at) || b.id - a.id;
const RECENT_LIMIT = 50; // as GET /api/v1/inbox

export function inbox(s = state) {
  const box = { incoming: [], active: [], recent: [] };
  for (const [id, section] of s.sections) box[section].push(s.interactions.get(id));
  Object.values(box).forEach((list) => list.sort(newestFirst));
  return { ...box, recent: box.recent.slice(0, RECENT_LIMIT) };
}

// An interaction, and where it goes in my inbox (null: not in it).
export function placeInteraction(s, interaction, section) {
  s.interactions.set(interaction.id, interaction);
  if (section) s.sections.set(interaction.id, section);
  else s.sections.delete(interaction.id);
}

// An interaction as a REST answer to my own action has it (respond, close, classify, a call or a text placed):
// stored at once, its section kept; the event that follows the action places it. An interaction of mine that is
// new (a call or a text I placed) is Active at once.
export function putInteraction(s, interaction) {
  const section = s.sections.get(interaction.id) ?? (interaction.status === 'active' ? 'active' : null);
  placeInteraction(s, interaction, section);
}

// An agent as the server has it now (status, presence, profile), wherever it is held: my colleagues, and me.
export function applyAgent(s, agent) {
  if (s.agents.has(agent.id)) s.agents.set(agent.id, agent);
  if (s.me?.id === agent.id) s.me = { ...s.me, ...agent }; // keeps what only I see (my email choices)
}

// A message's delivery only moves forward: of two copies, the one further along (an event and a REST read of the
// thread may cross, and the read's older copy must not undo the event's).
const DELIVERY_STEP = { queued: 0, sent: 1, delivered: 2, failed: 2, received: 2 };
const furthest = (known, fresh) => (
  known && (DELIVERY_STEP[known.status] ?? 0) > (DELIVERY_STEP[fresh.status] ?? 0) ? known : fresh);

// A message as the server has it now, in its thread if that is loaded (a new one at its place, by id).
export function applyMessage(s, interactionId, message) {
  const thread = s.threads.get(interactionId);
  if (!thread) return;
  const known = thread.find((m) => m.id === message.id);
  const others = thread.filter((m) => m.id !== message.id);
  s.threads.set(interactionId, [...others, furthest(known, message)].sort((a, b) => a.id - b.id));
}

// A thread as GET /interactions/<id>/messages answered, with what events brought meanwhile kept.
export function applyThread(s, interactionId, messages) {
  const known = new Map((s.threads.get(interactionId) || []).map((m) => [m.id, m]));
  const read = messages.map((m) => furthest(known.get(m.id), m));
  const since = [...known.values()].filter((m) => !messages.some((r) => r.id === m.id));
  s.threads.set(interactionId, [...read, ...since].sort((a, b) => a.id - b.id));
}

// A tracking number added or changed (the dialer's choice of caller ID).
export function applyTrackingNumber(s, number) {
  const others = s.trackingNumbers.filter((n) => n.id !== number.id);
  s.trackingNumbers = [...others, number].sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
}

// A website visit that joined a lead's timeline (the visitor called, texted or chatted, or came back): in the
// timeline on screen when it is that lead's, at its place by start (unless older than the pages loaded yet: the
// next page brings it).
export function applyVisit(s, visit) {
  const { timeline } = s;
  if (timeline.leadId !== visit.lead.id) return;
  const oldest = timeline.items[timeline.items.length - 1];
  if (timeline.next && oldest && visit.started_at < oldest.started_at) return;
  timeline.items = [...timeline.items.filter((i) => i.id !== visit.id), visit]
    .sort((a, b) => b.started_at.localeCompare(a.started_at) || b.id - a.id);
}

// A lead as the server has it now, wherever it is shown: the contact details, the panel's lead, the inbox rows (an
// interaction carries its lead's summary: id, name, numbers) and the search results. ``merged``: the id of a lead
// merged into this one, whose interactions are now this lead's.
export function applyLead(s, lead, merged = null) {
  s.leads.set(lead.id, lead);
  if (merged !== null) s.leads.delete(merged);
  if (s.lead?.id === lead.id || (merged !== null && s.lead?.id === merged)) s.lead = lead;
  for (const interaction of s.interactions.values()) {
    if (interaction.lead.id === lead.id || interaction.lead.id === merged) {
      interaction.lead = { id: lead.id, name: lead.name, numbers: lead.numbers };
    }
  }
  s.search.found = s.search.found.map((found) => (found.id === lead.id ? lead : found));
}

// -- what is on screen, derived --------------------------------------------------------------------------------

export function selected(s = state) {
  return s.selectedId === null ? null : s.interactions.get(s.selectedId) || null;
}

// The lead on screen: the one opened from a search (the 'lead' view), otherwise the selected interaction's. The
// areas that show a lead or change it ask here, so they always mean the same lead.
export function leadOnScreen(s = state) {
  return s.view === 'lead' ? s.lead : selected(s)?.lead || null;
}

export function callFor(interaction, s = state) {
  return interaction?.call_id ? s.calls.get(interaction.call_id) || null : null;
}
