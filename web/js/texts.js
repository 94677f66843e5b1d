// Text conversations in the interaction panel: the thread under the caller ID and attribution, Respond (from
// Incoming), the reply box with its Send button, and Close text. The thread follows the message.* events live.

import { api, refusal } from './api.js';
import { html, timeOfDay } from './html.js';
import { QUIET, applyThread, later, putInteraction, say, state, update } from './store.js';

const DRAFT_DELAY_MS = 300;

// The thread of a text interaction (the panel loads it the first time it shows it: loadThread).
export function threadView(interaction, s) {
  const thread = s.threads.get(interaction.id);
  return html`
    <section class="thread" aria-label="Text conversation">
      ${thread ? html`<ol class="messages">${thread.map(message)}</ol>` : html`<p class="empty">Loading…</p>`}
      ${actions(interaction, s)}
    </section>`;
}

function message(m) {
  const status = m.direction === 'inbound' ? '' : m.status === 'failed'
    ? `not sent: ${m.status_reason || 'refused'}` : m.status;
  return html`
    <li class="message ${m.direction} status-${m.status}" data-message="${m.id}">
      <p class="body">${m.body}</p>
      <small><time datetime="${m.created_at}">${timeOfDay(m.created_at)}</time>${status ? html` · <span class="delivery">${status}</span>` : ''}</small>
    </li>`;
}

function mine(interaction, s) {
  return Boolean(interaction.agent) && interaction.agent.id === s.me?.id;
}

// Whether this agent may write in the thread now: their active conversation, or one in Recent (writing starts
// it again). One waiting in Incoming is taken with Respond first; another agent's conversation is theirs.
export function canClose(interaction, s) {
  return interaction.kind === 'text' && interaction.status === 'active' && mine(interaction, s);
}

function actions(interaction, s) {
  if (interaction.status === 'incoming') {
    return html`<p class="actions"><button class="primary" data-action="respond" data-id="${interaction.id}"
      data-focus="respond-panel">Respond</button></p>`;
  }
  if (interaction.status === 'active' && !mine(interaction, s)) {
    return html`<p class="hint">${interaction.agent?.display_name || 'Another agent'} is texting with this lead.</p>`;
  }
  const draft = s.replies.get(interaction.id) || { body: '', hint: '' };
  return html`
    <form id="reply" class="reply" data-id="${interaction.id}" autocomplete="off">
      <label class="sr-only" for="reply-body">Message</label>
      <textarea id="reply-body" name="body" rows="3" maxlength="1600" required data-focus="reply-body"
        placeholder="Write a text…" aria-describedby="reply-hint">${draft.body}</textarea>
      <small id="reply-hint">${draft.hint}</small>
      <button class="primary" type="submit" data-focus="send-reply">Send</button>
    </form>`;
}

// The thread as the server has it now; "Loading…" until a thread shown for the first time is in (and after a
// refusal, which the notice says: the panel asks once, not again at each redraw).
export async function loadThread(id) {
  if (!state.threads.get(id)) update((s) => { s.threads.set(id, null); });
  try {
    const messages = await api('GET', `/api/v1/interactions/${id}/messages`);
    update((s) => applyThread(s, id, messages));
  } catch (error) {
    say(refusal(error), id);
  }
}

export async function respond(interaction) {
  let taken;
  try {
    taken = await api('POST', `/api/v1/interactions/${interaction.id}/respond`);
  } catch (error) {
    if (error.status !== 409) throw error;
    // Another agent responded first (or the 12 hours ran out): show the thread as it is now.
    taken = await api('GET', `/api/v1/interactions/${interaction.id}`);
    say(taken.agent ? `${taken.agent.display_name} responded first` : error.message, taken.id);
  }
  update((s) => {
    putInteraction(s, taken);
    s.selectedId = taken.id;
    s.view = 'interaction';
  });
  setTimeout(() => document.getElementById('reply-body')?.focus(), 0);
}

export async function closeText(interaction) {
  const closed = await api('POST', `/api/v1/interactions/${interaction.id}/close`);
  update((s) => { putInteraction(s, closed); });
}

export async function sendReply(form) {
  const id = Number(form.dataset.id);
  const body = String(new FormData(form).get('body') || '');
  if (!body.trim()) return;
  try {
    await api('POST', `/api/v1/interactions/${id}/messages`, { body });
    // Emptied here too: typing does not redraw, so the redraw for the emptied draft may find nothing changed.
    form.elements.body.value = '';
    update((s) => { s.replies.delete(id); });
    await loadThread(id);
  } catch (error) {
    say(refusal(error), id);
  }
}

// What the agent types is kept per conversation (a live redraw shows it again), and the hint under the box says
// how many texts it will go out as, from the server's own count (GSM-7 or UCS-2 decides the length of a part).
export function typed(form, body) {
  const id = Number(form.dataset.id);
  update((s) => { s.replies.set(id, { hint: '', ...s.replies.get(id), body }); }, QUIET);
  later('draft', DRAFT_DELAY_MS, () => describe(id, body).catch(() => {}));
}

async function describe(id, body) {
  if (!body) {
    update((s) => { if (s.replies.has(id)) s.replies.get(id).hint = ''; });
    return;
  }
  const count = await api('POST', '/api/v1/texts/draft', { body });
  const hint = count.parts > count.max_parts ? `Too long: at most ${count.max_parts} texts`
    : `${count.parts} text${count.parts === 1 ? '' : 's'} · ${count.characters_left} characters left`;
  update((s) => { if (s.replies.has(id) && s.replies.get(id).body === body) s.replies.get(id).hint = hint; });
}
