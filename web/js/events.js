// The live event stream (/api/v1/events): keeps the store current without polling. On first connect and after a
// reset it loads the inbox over REST; on a dropped connection it reconnects with its checkpoint and replays. Each
// event of the catalogue is applied to the store by its entry in APPLY.

import { api } from './api.js';
import {
  QUIET, applyAgent, applyLead, cancel, later, leadShown, placeInteraction, sectionByRule, state, update,
} from './store.js';
import { loadThread } from './texts.js';

const RETRY_MS = [500, 1000, 2000, 5000];
const SECTIONS = ['incoming', 'active', 'recent'];

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
  return Object.hasOwn(APPLY, frame.event) ? APPLY[frame.event](frame.data, frame.at) : null;
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

// How each event changes the store. Today's events name what changed (ids), so most handlers read it again over
// REST. Once events carry the resource (ISSUE11-PLAN.md, phase 2a), each handler becomes the line in its "with
// it:" comment, and what only the rereading needs goes: reread(), rereadLead(), the offeredToMe and declined
// sets and sectionByRule in store.js.
const APPLY = {
  // with it: (data) => update((s) => placeInteraction(s, data.interaction, data.section)),
  'interaction.created': (data) => reread(data.interaction_id, true),
  // with it: (data) => update((s) => placeInteraction(s, data.interaction, data.section)),
  // (today: a text thread in Recent that gets a new text waits in Incoming again, offered to the agents it names)
  'interaction.updated': (data) => reread(data.interaction_id,
    data.status === 'incoming' && Boolean(data.for_agents?.includes(state.me?.id))),
  // with it: (data) => update((s) => { s.sections.delete(data.interaction_id); }),
  'interaction.declined': (data) => update((s) => {
    s.declined.add(data.interaction_id);
    const interaction = s.interactions.get(data.interaction_id);
    if (interaction) placeInteraction(s, interaction, sectionByRule(interaction, s));
  }),
  // with it, each of the five: (data) => update((s) => applyMessage(s, data.message)), applyMessage putting the
  // message in its thread if that is loaded (the conversation's interaction.updated carries its last message)
  'message.received': rereadMessages,
  'message.queued': rereadMessages,
  'message.sent': rereadMessages,
  'message.delivered': rereadMessages,
  'message.failed': rereadMessages,
  // with it: (data) => update((s) => applyLead(s, data.lead)),
  'lead.updated': (data) => leadShown(state, data.lead_id) && rereadLead(data.lead_id),
  // with it: (data) => update((s) => applyAgent(s, data.agent.id, data.agent)), and, when it is me going to or
  // from offline, reload()
  'agent.status_changed': (data) => update((s) => {
    applyAgent(s, data.agent_id, { status: data.status, status_reason: data.reason });
  }),
  // with it: (data) => update((s) => applyAgent(s, data.agent.id, data.agent)),
  // (their status or their phone: what colleagues see and ringing follows)
  'agent.presence_changed': (data) => update((s) => { applyAgent(s, data.agent_id, { presence: data.presence }); }),
  // the figures are the resource already
  'queue.updated': (data, at) => update((s) => { s.queues.set(data.team_id, withSince(data, Date.parse(at))); }),
};

async function reload() {
  // A supervisor or an admin without an agent profile in this company has no "me": the inbox is the waiting calls.
  const mine = state.session.agent_id === null ? null : api('GET', '/api/v1/me/agent');
  const [box, me, agents, queues] = await Promise.all([api('GET', '/api/v1/inbox'), mine,
    api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues')]);
  update((s) => {
    s.queues = new Map(queues.map((q) => [q.team_id, withSince(q, q.measured_at ? Date.parse(q.measured_at) : Date.now())]));
    s.me = me;
    s.agents = new Map(agents.map((a) => [a.id, a]));
    s.offeredToMe = new Set(box.incoming.map((i) => i.id));
    s.sections = new Map(); // the server's inbox, as it is now
    for (const section of SECTIONS) box[section].forEach((i) => placeInteraction(s, i, section));
  });
}

function withSince(figures, measuredAt) {
  return { ...figures, since: measuredAt - figures.longest_wait_seconds * 1000 };
}

// The interaction as it is now, placed by the rule; offered: it is (again) offered to me.
async function reread(id, offered) {
  const interaction = await api('GET', `/api/v1/interactions/${id}`);
  update((s) => {
    if (offered) s.offeredToMe.add(id);
    placeInteraction(s, interaction, sectionByRule(interaction, s));
  });
}

// A thread on screen (or loaded before) is read again, and its conversation if known (its row shows the newest
// message).
function rereadMessages(data) {
  const id = data.interaction_id;
  return Promise.all([state.threads.get(id) && loadThread(id), state.interactions.has(id) && reread(id, false)]);
}

async function rereadLead(id) {
  const lead = await api('GET', `/api/v1/leads/${id}`);
  update((s) => applyLead(s, lead));
}
