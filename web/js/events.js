// The live event stream (/api/v1/events): keeps the store current without polling. On first connect and after a
// reset it reloads the inbox over REST; on a dropped connection it reconnects with its checkpoint and replays.

import { api } from './api.js';
import { putInteractions, state, update } from './store.js';
import { messageChanged } from './texts.js';

const RETRY_MS = [500, 1000, 2000, 5000];
let socket = null;
let checkpoint = null; // {stream, seq}
let retries = 0;
let stopped = true;
let retryTimer = null;
// Frames are applied one after the other: a slow REST refresh never lets an older state overwrite a newer one.
let applying = Promise.resolve();

export function start() {
  stopped = false;
  connect();
}

export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  checkpoint = null;
  if (socket) socket.close(1000);
  socket = null;
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = checkpoint ? `?since=${checkpoint.seq}&stream=${encodeURIComponent(checkpoint.stream)}` : '';
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events${query}`);
  socket = ws;
  ws.onmessage = (message) => {
    applying = applying.then(() => receive(JSON.parse(message.data))).catch((error) => console.error(error));
  };
  ws.onclose = (closed) => {
    if (socket !== ws) return;
    update((s) => { s.connection = 'lost'; });
    if (stopped || closed.code === 4401) return; // signed out: nothing to come back to
    retryTimer = setTimeout(connect, RETRY_MS[Math.min(retries++, RETRY_MS.length - 1)]);
  };
}

async function reload() {
  // A supervisor or an admin without an agent profile in this company has no "me": the inbox is the waiting calls.
  const mine = state.session.agent_id === null ? null : api('GET', '/api/v1/me/agent');
  const [box, me, agents, queues] = await Promise.all([api('GET', '/api/v1/inbox'), mine,
    api('GET', '/api/v1/agents'), api('GET', '/api/v1/queues')]);
  update((s) => {
    s.queues = new Map(queues.map((q) => [q.team_id, withSince(q, q.measured_at ? Date.parse(q.measured_at) : Date.now())]));
    putInteractions([...box.incoming, ...box.active, ...box.recent]);
    s.offeredToMe = new Set(box.incoming.map((i) => i.id));
    s.me = me;
    s.agents = new Map(agents.map((a) => [a.id, a]));
  });
}

async function receive(frame) {
  if (frame.event === 'stream.hello') {
    retries = 0;
    update((s) => { s.connection = 'live'; });
    if (!checkpoint) {
      checkpoint = { stream: frame.data.stream, seq: frame.data.seq };
      await reload();
    }
    return;
  }
  if (frame.event === 'stream.reset') {
    checkpoint = { stream: frame.data.stream, seq: frame.data.seq };
    await reload();
    return;
  }
  checkpoint.seq = frame.seq;
  const data = frame.data;
  switch (frame.event) {
    case 'interaction.created':
      update((s) => { s.offeredToMe.add(data.interaction_id); });
      await refreshInteraction(data.interaction_id);
      break;
    case 'interaction.updated':
      // A text thread in Recent that gets a new text waits in Incoming again, offered to the agents it names.
      if (data.status === 'incoming' && data.for_agents?.includes(state.me?.id)) {
        update((s) => { s.offeredToMe.add(data.interaction_id); });
      }
      await refreshInteraction(data.interaction_id);
      break;
    case 'message.received':
    case 'message.queued':
    case 'message.sent':
    case 'message.delivered':
    case 'message.failed':
      await Promise.all([messageChanged(data.interaction_id),
        state.interactions.has(data.interaction_id) && refreshInteraction(data.interaction_id)]);
      break;
    case 'interaction.declined':
      update((s) => { s.declined.add(data.interaction_id); });
      break;
    case 'queue.updated':
      update((s) => { s.queues.set(data.team_id, withSince(data, Date.parse(frame.at))); });
      break;
    case 'agent.status_changed':
      update((s) => {
        const agent = s.agents.get(data.agent_id);
        if (agent) Object.assign(agent, { status: data.status, status_reason: data.reason });
        if (s.me?.id === data.agent_id) Object.assign(s.me, { status: data.status, status_reason: data.reason });
      });
      break;
    case 'agent.presence_changed': // their status or their phone: what colleagues see and ringing follows
      update((s) => {
        for (const agent of [s.agents.get(data.agent_id), s.me?.id === data.agent_id ? s.me : null]) {
          if (agent) agent.presence = data.presence;
        }
      });
      break;
    case 'lead.updated': {
      update((s) => { s.leadVersion = (s.leadVersion || 0) + 1; s.changedLeadId = data.lead_id; });
      // The inbox rows name the lead: re-read those of this lead.
      const rows = [...state.interactions.values()].filter((i) => i.lead.id === data.lead_id);
      await Promise.all(rows.map((i) => refreshInteraction(i.id)));
      break;
    }
    default:
      break;
  }
}

function withSince(figures, measuredAt) {
  return { ...figures, since: measuredAt - figures.longest_wait_seconds * 1000 };
}

export async function refreshInteraction(id) {
  const interaction = await api('GET', `/api/v1/interactions/${id}`);
  update((s) => { s.interactions.set(id, interaction); });
  return interaction;
}
