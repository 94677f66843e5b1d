// Warm (consult) transfer and conference, in the call view of the agent on the call: consult a colleague or a number
// (the lead hears hold music), then Complete (they take the call), Merge (all three on it) or Cancel (back to the
// lead); add a colleague or a number to the call; the others on the call, each with Drop. And, for the colleague,
// the ring of such a call: who is calling and about which lead, before they answer (the softphone's ringing call
// names the interaction: X-LC-Interaction).

import { byAction, listen } from './actions.js';
import { api, refusal } from './api.js';
import { facts } from './facts.js';
import { html, leadName } from './html.js';
import * as softphone from './softphone.js';
import { putInteraction, say, subscribe, update } from './store.js';

export function mount(root) {
  listen(root, 'click', ACTIONS, byAction);
  subscribe(loadCallers);
}

// A call ringing my softphone about an interaction I do not have (a colleague consults me, or adds me to a call) is
// loaded once, to say who calls and about which lead; forgotten when the call is no longer there.
function loadCallers(s) {
  const wanted = [...s.calls].filter(([callId, call]) => call.interactionId && !s.callers.has(callId));
  const gone = [...s.callers.keys()].filter((callId) => !s.calls.has(callId));
  if (!wanted.length && !gone.length) return;
  update((t) => {
    for (const callId of gone) t.callers.delete(callId);
    for (const [callId] of wanted) t.callers.set(callId, null);
  });
  for (const [callId, call] of wanted) {
    api('GET', `/api/v1/interactions/${call.interactionId}`)
      .then((interaction) => update((t) => { if (t.callers.has(callId)) t.callers.set(callId, interaction); }))
      .catch((error) => say(refusal(error)));
  }
}

// The interaction a call of my softphone is about, when it is not in my inbox: a colleague's consult or conference.
export function callerOf(s, callId) {
  return s.callers.get(callId) || null;
}

// Above the panel: each call ringing my softphone from a colleague, with who and which lead, Answer and Decline.
export function ringingView(s) {
  const ringing = [...s.calls].filter(([callId, call]) => call.state === 'ringing' && s.callers.get(callId));
  return ringing.map(([callId]) => {
    const interaction = s.callers.get(callId);
    const from = interaction.agent?.display_name || 'A colleague';
    return html`
      <section class="call ringing-colleague" aria-label="A colleague is calling" data-key="ring-${callId}">
        <p class="calling"><strong class="colleague">${from}</strong> is calling you about a call with</p>
        <div class="caller">
          <strong class="caller-id">${leadName(interaction)}</strong>
          ${detailList(interaction)}
        </div>
        <div class="controls">
          <button class="primary" data-action="conf-answer" data-call="${callId}" data-focus="conf-answer">Answer</button>
          <button data-action="conf-decline" data-call="${callId}" data-focus="conf-decline">Decline</button>
        </div>
      </section>`;
  });
}

function detailList(interaction) {
  const list = facts(interaction, { live: true });
  return list.length ? html`<dl class="facts">${list.map(([label, value, name]) => html`<dt>${label}</dt>
    <dd class="${name}">${value}</dd>`)}</dl>` : '';
}

// The consult that is going on for this call, if any: the last warm transfer still requested.
function openConsult(interaction) {
  return (interaction.transfers || []).filter((t) => t.kind === 'warm' && t.outcome === 'requested').pop() || null;
}

function partyName(s, agentId, number) {
  return agentId ? s.agents.get(agentId)?.display_name || 'A colleague' : number;
}

// Under the call view, for the agent on an inbound call: consult or add someone, and the others on the call.
export function conferenceView(s, interaction) {
  if (!s.me || interaction.agent?.id !== s.me.id || interaction.direction !== 'inbound') return '';
  const consult = openConsult(interaction);
  const others = (interaction.legs || []).filter((leg) => !leg.left_at && leg.agent_id !== s.me.id);
  return html`
    <section class="conference" aria-label="Consult and conference">
      ${others.length ? html`<ul class="parties" aria-label="Also on the call">${others.map((leg) => html`
        <li data-key="leg-${leg.id}"><span class="party">${leg.agent_name || leg.number}</span>
          <button class="link" data-action="conf-drop" data-id="${interaction.id}" data-leg="${leg.id}"
            data-focus="conf-drop-${leg.id}">Drop</button></li>`)}</ul>` : ''}
      ${consult ? html`<div class="consulting" role="status">
        <span>Consulting <strong>${partyName(s, consult.to_agent_id, consult.to_number)}</strong>; the caller is on
          hold.</span>
        <div class="controls">
          <button class="primary" data-action="conf-settle" data-verb="complete" data-id="${interaction.id}"
            data-focus="conf-complete">Complete transfer</button>
          <button data-action="conf-settle" data-verb="merge" data-id="${interaction.id}" data-focus="conf-merge">Merge
            calls</button>
          <button data-action="conf-settle" data-verb="cancel" data-id="${interaction.id}" data-focus="conf-cancel">Cancel
            consult</button>
        </div></div>` : html`<form class="bring-in" aria-label="Consult or add someone">
        <label>Colleague
          <select name="conf_agent" data-focus="conf-agent">
            <option value="">Choose…</option>
            ${[...s.agents.values()].filter((a) => a.id !== s.me.id).map((a) => html`<option value="${a.id}">${a.display_name}
              (${a.status})</option>`)}
          </select>
        </label>
        <label>or a number <input name="conf_number" type="tel" autocomplete="off" data-focus="conf-number"></label>
        <div class="controls">
          <button type="button" data-action="conf-bring" data-how="consult" data-id="${interaction.id}"
            data-focus="conf-consult">Consult</button>
          <button type="button" data-action="conf-bring" data-how="conference" data-id="${interaction.id}"
            data-focus="conf-add">Add to call</button>
        </div>
      </form>`}
    </section>`;
}

// The interaction as a verb's answer has it (legs, transfers) is applied at once; its events follow.
const applied = (interaction) => update((s) => { putInteraction(s, interaction); });

function bringIn({ how, id }, element) {
  const form = element.closest('form');
  const agentId = Number(form.elements.conf_agent.value);
  const number = form.elements.conf_number.value.trim();
  if (!agentId && !number) {
    say('Choose a colleague or type a number.');
    return null;
  }
  return api('POST', `/api/v1/interactions/${id}/${how}`, agentId ? { agent_id: agentId } : { number }).then(applied);
}

const ACTIONS = {
  'conf-bring': bringIn,
  'conf-settle': ({ verb, id }) => api('POST', `/api/v1/interactions/${id}/consult/${verb}`).then(applied),
  'conf-drop': ({ id, leg }) => api('DELETE', `/api/v1/interactions/${id}/conference/${leg}`),
  'conf-answer': ({ call }) => softphone.answer(call),
  'conf-decline': ({ call }) => softphone.hangup(call),
};

