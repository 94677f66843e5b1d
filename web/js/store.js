// The one client-side store: what every area renders from. The websocket (events.js), the softphone and the
// areas change it only through update(); subscribers re-render once per batch of changes.

const listeners = new Set();
let pending = false;

export const state = {
  session: null,          // GET /api/v1/session
  me: null,               // my agent profile (status, status_reason)
  agents: new Map(),      // colleagues by id (live status)
  interactions: new Map(),// by id, as the API answers them
  offeredToMe: new Set(), // ids of incoming interactions my call flows offer me (REST inbox + interaction.created)
  declined: new Set(),    // ids I declined
  trackingNumbers: [],
  tags: [],
  threads: new Map(),     // text conversations' messages by interaction id, once shown (null while loading)
  replies: new Map(),     // what the agent is typing in each conversation: {body, hint}
  selectedId: null,       // the interaction shown in the panel, contact details and classification
  colleaguesOpen: false,  // the inbox's Team list (colleagues' availability) is shown
  queues: new Map(),      // team id -> live queue figures (GET /api/v1/queues, then queue.updated), with since:
                          // when the longest-waiting caller started waiting (epoch ms, for the ticking wait)
  search: { query: '', found: [], loading: false, error: '' }, // lead search (inbox); found: leads as the API has them
  lead: null,             // the lead whose timeline the panel shows in the 'lead' view (opened from a search)
  view: 'dialer',         // interaction panel: dialer | text | interaction | timeline | lead | profile
  dialer: { recipient: '', trackingNumberId: null, record: false },
  softphone: { status: 'off', error: '' }, // off | connecting | registered | unregistered | failed
  calls: new Map(),       // my softphone's calls by call id: {state: ringing|connecting|live|ended, muted, held, since}
  microphone: 'unknown',  // granted | denied | prompt | unknown
  connection: 'connecting', // the event stream: connecting | live | lost
  notice: '',             // the banner under the status bar; transient (see say())
};

export function update(change) {
  change(state);
  if (!pending) {
    pending = true;
    queueMicrotask(() => {
      pending = false;
      expireNotice(state);
      listeners.forEach((listener) => listener(state));
    });
  }
}

// -- notices: transient, they go when their subject moves on -------------------------------------------------
// A notice is about where the agent was when it appeared (the panel's view and the interaction or lead in it)
// and, when said so, about one interaction: it goes when the agent moves elsewhere, when that interaction moves on
// (its status or outcome changes), or when dismissed.

let noticeContext = null; // {text, about, place, status} of the notice shown
let nextAbout = null;

export function say(text, about = null) {
  update((s) => { s.notice = text; nextAbout = about; });
}

const placeOf = (s) => `${s.view}:${s.view === 'lead' ? s.lead?.id : s.selectedId}`;

function statusOf(s, id) {
  const interaction = id === null ? null : s.interactions.get(id);
  return interaction ? `${interaction.status}:${interaction.outcome}` : null;
}

function expireNotice(s) {
  if (!s.notice) {
    noticeContext = null;
  } else if (noticeContext?.text !== s.notice) {
    noticeContext = { text: s.notice, about: nextAbout, place: placeOf(s), status: statusOf(s, nextAbout) };
  } else if (noticeContext.place !== placeOf(s) || noticeContext.status !== statusOf(s, noticeContext.about)) {
    s.notice = '';
    noticeContext = null;
  }
  nextAbout = null;
}

export function subscribe(listener) {
  listeners.add(listener);
  listener(state);
  return () => listeners.delete(listener);
}

// -- the inbox, derived the way the server's GET /api/v1/inbox decides it -----------------------------------

const newestFirst = (a, b) => b.status_changed_at.localeCompare(a.status_changed_at) || b.id - a.id;
const RECENT_LIMIT = 50;

export function inbox(s = state) {
  const myId = s.me?.id;
  const all = [...s.interactions.values()];
  const incoming = s.me?.status === 'offline' ? [] : all.filter((i) => i.status === 'incoming'
    && s.offeredToMe.has(i.id) && !s.declined.has(i.id));
  const active = all.filter((i) => i.status === 'active' && i.agent?.id === myId);
  const recent = all.filter((i) => i.status === 'recent' && (!i.agent || i.agent.id === myId))
    .sort(newestFirst).slice(0, RECENT_LIMIT);
  return { incoming: incoming.sort(newestFirst), active: active.sort(newestFirst), recent };
}

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

export function putInteractions(list, s = state) {
  for (const interaction of list) s.interactions.set(interaction.id, interaction);
}
