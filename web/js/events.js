// The live event stream (/api/v1/events): keeps the store current without polling. On first connect and after a
// reset it loads the inbox over REST; on a dropped connection it reconnects with its checkpoint and replays. Each
// event of the catalogue is applied to the store by its entry in APPLY.

import { api } from './api.js';
import {
  QUIET, applyAgent, applyLead, applyMessage, applyTrackingNumber, applyVisit, cancel, later, placeInteraction, state,
  update,
} from './store.js';

const RETRY_MS = [500, 1000, 2000, 5000];
const SECTIONS = ['incoming', 'active', 'recent'];
const VISITOR_TYPING_MS = 5000;

export function start() {
  update((s) => { s.stream.stopped = false; }, QUIET);
  connect();
}

export function stop() {
  cancel('reconnect');
  const { socket } = state.stream;
  update((s) => { Object.assign(s.stream, { socket: null, checkpoint: null, stopped: true }); }, QUIET);
  if (socket) socket.close(1000);
}

function connect() {
  const { checkpoint } = state.stream;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = checkpoint ? `?since=${checkpoint.seq}&stream=${encodeURIComponent(checkpoint.stream)}` : '';
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events${query}`);
  update((s) => { s.stream.socket = ws; }, QUIET);
  // Frames are applied one after the other: a slow REST read never lets an older state overwrite a newer one.
  ws.onmessage = (message) => update((s) => {
    s.stream.applying = s.stream.applying.then(() => receive(JSON.parse(message.data)))
      .catch((error) => console.error(error));
  }, QUIET);
  ws.onclose = (closed) => {
    if (state.stream.socket !== ws) return;
    update((s) => { s.connection = 'lost'; });
    if (state.stream.stopped || closed.code === 4401) return; // signed out: nothing to come back to
    const { retries } = state.stream;
    update((s) => { s.stream.retries += 1; }, QUIET);
    later('reconnect', RETRY_MS[Math.min(retries, RETRY_MS.length - 1)], connect);
  };
}

function receive(frame) {
  if (Object.hasOwn(STREAM, frame.event)) return STREAM[frame.event](frame.data);
  update((s) => { s.stream.checkpoint.seq = frame.seq; }, QUIET);
  return Object.hasOwn(APPLY, frame.event) ? APPLY[frame.event](frame.data) : null;
}

// The stream's own frames.
const STREAM = {
  'stream.hello': async (data) => {
    update((s) => { s.connection = 'live'; s.stream.retries = 0; });
    if (state.stream.checkpoint) return; // back after a drop: the stream replays what was missed
    update((s) => { s.stream.checkpoint = { stream: data.stream, seq: data.seq }; }, QUIET);
    await reload();
  },
  'stream.reset': async (data) => { // the stream no longer reaches back to the checkpoint
    update((s) => { s.stream.checkpoint = { stream: data.stream, seq: data.seq }; }, QUIET);
    await reload();
  },
};

// How each event of the catalogue (/api/events.json) changes the store. Each carries its resource as the REST API
// returns it, and an interaction event where it now is in my inbox (its section), so nothing is read again: the
// store takes what the event says.
const APPLY = {
  'interaction.created': placeFromEvent,
  'interaction.updated': placeFromEvent,
  'interaction.declined': (data) => update((s) => { s.sections.delete(data.interaction_id); }), // I declined it
  // a thread on screen (or loaded before) gets the message; the conversation's row follows its interaction.updated
  'message.received': (data) => update((s) => {
    applyMessage(s, data.interaction_id, data.message);
    s.typing.delete(data.interaction_id); // what the visitor was typing is here
  }),
  'message.queued': (data) => update((s) => applyMessage(s, data.interaction_id, data.message)),
  'message.sent': (data) => update((s) => applyMessage(s, data.interaction_id, data.message)),
  'message.delivered': (data) => update((s) => applyMessage(s, data.interaction_id, data.message)),
  'message.failed': (data) => update((s) => applyMessage(s, data.interaction_id, data.message)),
  'chat.visitor_typing': visitorTyping,
  'visit.joined': (data) => update((s) => applyVisit(s, data.interaction)), // in the lead's timeline on screen
  'visit.updated': (data) => update((s) => applyVisit(s, data.interaction)), // another page of it
  'lead.updated': (data) => update((s) => applyLead(s, data.lead)),
  'lead.merged': (data) => update((s) => applyLead(s, data.lead, data.duplicate_id)),
  // their status or their phone: what colleagues see and ringing follows
  'agent.status_changed': applyAgentEvent,
  'agent.presence_changed': applyAgentEvent,
  'agent.updated': applyAgentEvent,
  'queue.updated': (data) => update((s) => { s.queues.set(data.team_id, withSince(data)); }),
  // a supervisor listening to one of my calls (sent to me only when the company tells agents)
  'monitor.started': applyMonitor,
  'monitor.updated': applyMonitor,
  'monitor.ended': applyMonitor,
  'tracking_number.created': (data) => update((s) => { applyTrackingNumber(s, data.tracking_number); }),
  'tracking_number.updated': (data) => update((s) => { applyTrackingNumber(s, data.tracking_number); }),
  'tracking_number.deleted': (data) => update((s) => {
    s.trackingNumbers = s.trackingNumbers.filter((n) => n.id !== data.tracking_number_id);
  }),
};

// The visitor types: shown until they send it, or until they have not typed for a few seconds (the widget says
// so every few seconds while they type).
function visitorTyping({ interaction_id: id }) {
  update((s) => { s.typing.add(id); });
  later(`typing-${id}`, VISITOR_TYPING_MS, () => update((s) => { s.typing.delete(id); }));
}

function applyMonitor({ monitor }) {
  update((s) => {
    if (monitor.agent_id !== s.me?.id) return; // a supervisor's app gets every monitor: only mine are shown
    if (monitor.state === 'active') s.monitored.set(monitor.interaction_id, monitor.mode);
    else s.monitored.delete(monitor.interaction_id);
  });
}

function placeFromEvent(data) {
  update((s) => placeInteraction(s, data.interaction, data.section));
}

function applyAgentEvent(data) {
  return applyAgentNow(data.agent);
}

// An agent as the server has it now, from an event or from the answer to my own change. Offline has no Incoming:
// when I go offline or come back, the server's inbox is read again.
export function applyAgentNow(agent) {
  const wasOffline = state.me?.id === agent.id && state.me.status === 'offline';
  update((s) => applyAgent(s, agent));
  if (state.me?.id === agent.id && wasOffline !== (agent.status === 'offline')) return reload();
  return null;
}

async function reload() {
  // A supervisor or an admin without an agent profile in this company has no "me": the inbox is the waiting calls.
  const mine = state.session.agent_id === null ? null : api('GET', '/api/v1/me/agent');
  const [box, me, agents, queues] = await Promise.all([api('GET', '/api/v1/inbox'), mine,
    api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues')]);
  update((s) => {
    s.queues = new Map(queues.map((q) => [q.team_id, withSince(q)]));
    s.me = me;
    s.agents = new Map(agents.map((a) => [a.id, a]));
    s.sections = new Map(); // the server's inbox, as it is now
    for (const section of SECTIONS) box[section].forEach((i) => placeInteraction(s, i, section));
  });
}

// Since when the longest-waiting caller waits (epoch ms), for the ticking wait.
function withSince(figures) {
  const measuredAt = figures.measured_at ? Date.parse(figures.measured_at) : Date.now();
  return { ...figures, since: measuredAt - figures.longest_wait_seconds * 1000 };
}
