// Blind transfer: the call view's Transfer button and its dialog (colleagues with their live availability, the
// teams' queues, an external number); and, on the colleague's side, a call transferred to them ringing, with the
// lead and who handed it on (the INVITE's X-LC-Interaction names the interaction) before they answer.

import { api } from './api.js';
import { facts } from './facts.js';
import { clock, html, leadName, timeOfDay } from './html.js';
import * as softphone from './softphone.js';
import { QUIET, putInteraction, say, state, update } from './store.js';

export const PRESENCE_LABELS = {
  available: 'Available', ringing: 'Ringing', on_call: 'On a call', wrap_up: 'Wrap-up', missed: 'Missed a call',
  unreachable: 'Unreachable', offline: 'Offline',
};

// A call of mine with a lead on it is transferred: inbound, or outbound once the lead answered.
export function button(s, interaction) {
  if (!onTheLine(interaction) || interaction.agent?.id !== s.me?.id) return '';
  return html`<button data-action="transfer-open" aria-expanded="${String(Boolean(s.transfer.open))}"
    data-focus="transfer">Transfer</button>`;
}

// A lead's live call: an inbound one the agent took, an outbound one the lead picked up.
export function onTheLine(interaction) {
  return interaction?.kind === 'call' && (interaction.direction === 'inbound' || Boolean(interaction.answered_at));
}

export function dialog(s, interaction) {
  if (!s.transfer.open || interaction?.agent?.id !== s.me?.id) return '';
  const colleagues = [...s.agents.values()].filter((agent) => agent.id !== s.me?.id);
  return html`
    <section class="transfer" role="group" aria-label="Transfer the call">
      <h3>Transfer to</h3>
      <ul class="plain transfer-agents">${colleagues.map((agent) => html`
        <li class="colleague presence-${agent.presence}"><span class="dot" aria-hidden="true"></span>
          <button class="link" data-action="transfer-to" data-id="${interaction.id}" data-agent="${agent.id}"
            data-focus="transfer-agent-${agent.id}">${agent.display_name}</button>
          <small>${PRESENCE_LABELS[agent.presence] || agent.presence}</small></li>`)}</ul>
      <ul class="plain transfer-teams">${[...s.queues.values()].map((queue) => html`
        <li><button class="link" data-action="transfer-to" data-id="${interaction.id}" data-team="${queue.team_id}"
          data-focus="transfer-team-${queue.team_id}">${queue.team_name} queue</button>
          <small>${queue.callers_waiting} waiting</small></li>`)}</ul>
      <form id="transfer-number" data-id="${interaction.id}">
        <label>Number <input name="transfer_number" type="tel" value="${s.transfer.number}" autocomplete="off"></label>
        <button class="primary" data-focus="transfer-number">Transfer</button>
      </form>
    </section>`;
}

const MOVES = { blind: 'Transfer', warm: 'Consult', conference: 'Added to the call', refer: 'Desk phone transfer' };

// Who was on a call besides the lead (each agent's or number's leg: from when to when, talk and hold) and how it
// moved between them, oldest first. Nothing for a call one agent took from start to end.
export function history(s, interaction) {
  const legs = interaction.legs || [];
  const moves = interaction.transfers || [];
  if (legs.length < 2 && !moves.length) return '';
  const agentName = (id) => s.agents.get(id)?.display_name || 'a colleague';
  const target = (move) => (move.to_agent_id ? agentName(move.to_agent_id)
    : move.to_team_id ? `${s.queues.get(move.to_team_id)?.team_name || 'a team'} queue` : move.to_number);
  return html`
    <section class="call-history" aria-label="On the call">
      <h4>On the call</h4>
      <ol class="plain legs">${legs.map((leg) => html`<li data-key="leg-${leg.id}">
        <span class="leg-party">${leg.agent_name || leg.number}</span>
        <time datetime="${leg.joined_at}">${timeOfDay(leg.joined_at)}</time> to
        ${leg.left_at ? html`<time datetime="${leg.left_at}">${timeOfDay(leg.left_at)}</time>` : 'now'}
        ${leg.talk_seconds !== null ? html`<span class="leg-talk">talk ${clock(leg.talk_seconds)}</span>` : ''}
        ${leg.hold_seconds ? html`<span class="leg-hold">hold ${clock(leg.hold_seconds)}</span>` : ''}</li>`)}</ol>
      ${moves.length ? html`<ol class="plain moves">${moves.map((move) => html`<li class="move-${move.kind}">
        <time datetime="${move.at}">${timeOfDay(move.at)}</time> ${MOVES[move.kind] || move.kind} by
        ${agentName(move.from_agent_id)} to ${target(move)}: <span class="move-outcome">${move.outcome}</span></li>`)}</ol>` : ''}
    </section>`;
}

async function transfer(id, to) {
  await api('POST', `/api/v1/interactions/${id}/transfer`, { to, mode: 'blind' });
  update((s) => { s.transfer.open = false; s.transfer.number = ''; });
  say('Transferred: the call is theirs once they answer.');
}

export const ACTIONS = {
  'transfer-open': () => update((s) => { s.transfer.open = !s.transfer.open; }),
  'transfer-to': ({ id, agent, team }) => transfer(id, agent ? { agent_id: Number(agent) } : { team_id: Number(team) }),
  'answer-transfer': ({ call }) => softphone.answer(call),
  'decline-transfer': ({ call }) => softphone.hangup(call),
};

export const FORMS = {
  'transfer-number': (form) => transfer(form.dataset.id, { number: new FormData(form).get('transfer_number') }),
};

export const TYPED = {
  transfer_number: (field) => update((s) => { s.transfer.number = field.value; }, QUIET),
};

// What the ringing card says by the kind of the move that rings me: handed over, or a colleague asking first
// (a consult, conference.js) or bringing me into the call.
const HOW = {
  blind: { label: 'Call transferred to you', said: 'Transferred' },
  warm: { label: 'A colleague consults you', said: 'Consult' },
  conference: { label: 'A colleague adds you to a call', said: 'Conference' },
};

function leadFacts(interaction) {
  const list = facts(interaction, { live: true });
  return list.length ? html`<dl class="facts">${list.map(([label, value, name]) => html`<dt>${label}</dt>
    <dd class="${name}">${value}</dd>`)}</dl>` : '';
}

// Calls ringing my softphone that are not in my Incoming: transferred to me. Their interaction is loaded once.
function transferredRinging(s) {
  return [...s.calls].filter(([, call]) => call.state === 'ringing' && call.interaction
    && s.sections.get(call.interaction) !== 'incoming');
}

export function load(s) {
  for (const [, call] of transferredRinging(s)) {
    if (s.interactions.has(call.interaction) || s.transfer.asked.has(call.interaction)) continue;
    update((t) => { t.transfer.asked.add(call.interaction); }, QUIET);
    api('GET', `/api/v1/interactions/${call.interaction}`)
      .then((interaction) => update((t) => putInteraction(t, interaction))).catch(() => {});
  }
}

export function ringing(s) {
  return transferredRinging(s).map(([callId, call]) => {
    const interaction = s.interactions.get(call.interaction);
    const by = interaction?.transfers?.filter((move) => move.to_agent_id === s.me?.id).pop();
    const from = by && s.agents.get(by.from_agent_id);
    const how = HOW[by?.kind] || HOW.blind;
    return html`
      <section class="call transferred" aria-label="${how.label}">
        <div class="caller"><strong class="caller-id">${interaction ? leadName(interaction) : call.from}</strong>
          <span class="kind">${how.said}${from ? ` by ${from.display_name}` : ''}</span>
          ${interaction ? leadFacts(interaction) : ''}</div>
        <div class="controls">
          <button class="primary" data-action="answer-transfer" data-call="${callId}" data-focus="answer-transfer">Answer</button>
          <button data-action="decline-transfer" data-call="${callId}">Decline</button>
        </div>
      </section>`;
  });
}
