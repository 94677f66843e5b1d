// Warm (consult) transfer and conference, in the call view of the agent on the call: consult a colleague (only an
// Available one, as the picker shows them) or a number (the lead hears hold music), then Complete (they take the
// call), Merge (all three on it) or Cancel (back to the lead); add a colleague or a number to the call; the others
// on the call, each with Drop. The colleague's side (the call ringing them, with who calls and the lead, before they
// answer) is transfer.js's ringing card.

import { api } from './api.js';
import { html } from './html.js';
import { putInteraction, say, update } from './store.js';
import { PRESENCE_LABELS, onTheLine } from './transfer.js';

// The consult that is going on for this call, if any: the last warm transfer still requested.
function openConsult(interaction) {
  return (interaction.transfers || []).filter((t) => t.kind === 'warm' && t.outcome === 'requested').pop() || null;
}

function partyName(s, agentId, number) {
  return agentId ? s.agents.get(agentId)?.display_name || 'A colleague' : number;
}

const UNANSWERED = {
  busy: 'was busy', no_answer: 'did not answer', refused: 'declined the call', unreachable: 'could not be reached',
};

// My last consult or conference call, when its party did not answer (the transfer failed, and why).
function unanswered(s, interaction) {
  const last = (interaction.transfers || [])
    .filter((t) => t.from_agent_id === s.me.id && (t.kind === 'warm' || t.kind === 'conference')).pop();
  return last?.outcome === 'failed' && last.failure ? last : null;
}

// Under the call view, for the agent on a lead's call (inbound, or outbound once the lead answered): consult or add
// someone, and the others on the call.
export function view(s, interaction) {
  if (!s.me || interaction.agent?.id !== s.me.id || !onTheLine(interaction)) return '';
  const consult = openConsult(interaction);
  if (s.transfer.open && !consult) return ''; // the Transfer dialog is open instead (transfer.js)
  const others = (interaction.legs || []).filter((leg) => !leg.left_at && leg.agent_id !== s.me.id);
  const failed = unanswered(s, interaction);
  return html`
    <section class="conference" aria-label="Consult and conference">
      ${failed ? html`<p class="party-failed" role="status">${partyName(s, failed.to_agent_id, failed.to_number)}
        ${UNANSWERED[failed.failure] || 'did not answer'}: you are still with the caller.</p>` : ''}
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
            ${[...s.agents.values()].filter((a) => a.id !== s.me.id).map((a) => html`<option value="${a.id}"
              ${a.presence === 'available' ? '' : html`disabled`}>${a.display_name}
              (${PRESENCE_LABELS[a.presence] || a.presence})</option>`)}
          </select>
        </label>
        <label>or an outside phone <input name="conf_number" type="tel" autocomplete="off" data-focus="conf-number"></label>
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
    say('Choose a colleague or type an outside phone number.');
    return null;
  }
  return api('POST', `/api/v1/interactions/${id}/${how}`, agentId ? { agent_id: agentId } : { number }).then(applied);
}

// The panel's click table takes these (panel.js).
export const ACTIONS = {
  'conf-bring': bringIn,
  'conf-settle': ({ verb, id }) => api('POST', `/api/v1/interactions/${id}/consult/${verb}`).then(applied),
  'conf-drop': ({ id, leg }) => api('DELETE', `/api/v1/interactions/${id}/conference/${leg}`),
};

