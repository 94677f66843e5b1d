// Conversations in the interaction panel: text threads, website chats and the chat widget's offline forms. Each
// shows its messages under the lead and attribution, Respond (from Incoming) and, while it is mine, the reply box
// and its close (Close text, End Chat, Close form: not "Close", the panel's X). What differs by kind is declared
// once, in KINDS. The thread follows the message.* events live; a chat also shows where its visitor is (page,
// source, still there or gone) and their typing (chat.visitor_typing), and tells them mine.

import { api, refusal } from './api.js';
import { html, leadName, timeOfDay } from './html.js';
import { QUIET, applyMessage, applyThread, later, putInteraction, say, state, update } from './store.js';

const DRAFT_DELAY_MS = 300;
const TYPING_EVERY_MS = 2500; // the visitor's widget shows "is typing" for a few seconds after each

// Each kind of conversation: what it is called, its close, the reply box (none for a form: the agent gets back to
// the visitor by phone or email), and what the thread says while another agent has it.
const KINDS = {
  text: {
    thread: 'Text conversation', close: 'Close text', closes: 'the conversation moves to Recent',
    reply: { limit: 1600, placeholder: 'Write a text…', enterSends: false, parts: true },
    taken: 'is texting with this lead', delivery: true, reopens: true,
  },
  chat: {
    thread: 'Chat', close: 'End Chat', closes: 'the chat ends and moves to Recent; the visitor is told',
    reply: { limit: 2000, placeholder: 'Write a message…', enterSends: true, parts: false },
    taken: 'is chatting with this visitor', visit: true, typing: true,
  },
  form: {
    thread: 'Form submission', close: 'Close form', closes: 'the form moves to Recent',
    reply: null, taken: 'is getting back to this visitor', visit: true,
  },
};

// The conversation reading of an interaction (null: not a conversation, e.g. a call).
export function conversationOf(interaction) {
  return (interaction && KINDS[interaction.kind]) || null;
}

function mine(interaction, s) {
  return Boolean(interaction.agent) && interaction.agent.id === s.me?.id;
}

// Whether this agent can close the conversation now (Close text / End Chat / Close form): their active one.
export function canClose(interaction, s) {
  return Boolean(conversationOf(interaction)) && interaction.status === 'active' && mine(interaction, s);
}

export function closeLabel(interaction) {
  const kind = conversationOf(interaction);
  return { label: kind.close, title: `${kind.close}: ${kind.closes}` };
}

// The conversation of an interaction in the panel (the panel loads its thread the first time it shows it:
// loadThread).
export function conversationView(interaction, s) {
  const kind = conversationOf(interaction);
  return html`
    <section class="thread conversation-${interaction.kind}" aria-label="${kind.thread}">
      ${kind.visit ? visit(interaction, s) : ''}
      ${messages(interaction, s)}
      ${kind.typing && s.typing.has(interaction.id) && interaction.status !== 'recent'
        ? html`<p class="typing" role="status">${leadName(interaction)} is typing…</p>` : ''}
      ${actions(interaction, s)}
    </section>`;
}

// Where a chat's (or a form's) visitor is: the page they are on now, where they came from, whether they are
// still on the site.
function visit(interaction, s) {
  const { chat } = interaction;
  if (!chat) return '';
  const email = s.leads.get(interaction.lead.id)?.email;
  return html`
    <dl class="facts session" aria-label="Session information">
      ${interaction.kind === 'form' ? html`
        <dt>Form</dt><dd class="form-name">${chat.form_name || 'Left while nobody was online to chat'}</dd>
        <dt>Name</dt><dd class="visitor-name">${interaction.lead.name || '(not given)'}</dd>
        <dt>Phone</dt><dd class="visitor-phone">${interaction.lead_number || '(not given)'}</dd>
        ${email ? html`<dt>Email</dt><dd class="visitor-email">${email}</dd>` : ''}` : ''}
      <dt>Page</dt><dd class="page">${chat.page_title ? html`<span class="page-title">${chat.page_title}</span> ` : ''}<small class="page-url">${chat.page_url}</small></dd>
      <dt>Came from</dt><dd class="referrer">${chat.referrer || interaction.source || 'Direct'}</dd>
      ${interaction.kind === 'chat' ? html`<dt>Visitor</dt><dd class="presence">${presence(interaction)}</dd>` : ''}
    </dl>`;
}

const ENDED_BY = { visitor: 'Ended the chat', agent: 'The chat was ended', timeout: 'Nobody responded in time' };

function presence({ chat }) {
  if (chat.ended_by) return ENDED_BY[chat.ended_by] || 'The chat has ended';
  if (chat.visitor_left_at) {
    return html`<span class="gone">Gone since ${timeOfDay(chat.visitor_left_at)}</span>: what you send is there when they come back`;
  }
  return html`<span class="here">On the site</span>`;
}

// The thread as loaded; a form's message as its inbox row has it until then (or when its thread cannot be read).
function messages(interaction, s) {
  const thread = s.threads.get(interaction.id);
  const kind = conversationOf(interaction);
  if (thread?.length || (thread && interaction.kind !== 'form')) {
    return html`<ol class="messages">${thread.map((m) => message(m, kind))}</ol>`;
  }
  if (interaction.kind === 'form' && interaction.last_message) {
    return html`<ol class="messages">${message({ ...interaction.last_message, id: 0, status: 'received' }, kind)}</ol>`;
  }
  return html`<p class="empty">Loading…</p>`;
}

function message(m, kind) {
  const status = m.direction === 'inbound' || !kind.delivery ? '' : m.status === 'failed'
    ? `not sent: ${m.status_reason || 'refused'}` : m.status;
  return html`
    <li class="message ${m.direction} status-${m.status}" data-message="${m.id}">
      <p class="body">${m.body}</p>
      <small><time datetime="${m.created_at}">${timeOfDay(m.created_at)}</time>${status ? html` · <span class="delivery">${status}</span>` : ''}</small>
    </li>`;
}

function actions(interaction, s) {
  const kind = conversationOf(interaction);
  if (interaction.status === 'incoming') {
    return html`<p class="actions respond-bar"><button class="primary" data-action="respond" data-id="${interaction.id}"
      data-focus="respond-panel">Respond</button></p>`;
  }
  if (interaction.status === 'active' && !mine(interaction, s)) {
    return html`<p class="hint">${interaction.agent?.display_name || 'Another agent'} ${kind.taken}.</p>`;
  }
  if (interaction.status === 'recent' && !kind.reopens) {
    return html`<p class="hint ended">${interaction.kind === 'chat' ? 'This chat has ended.' : 'Closed.'}</p>`;
  }
  if (!kind.reply) {
    return html`<p class="hint">Get back to them by phone or email; ${kind.close} moves it to Recent.</p>`;
  }
  const draft = s.replies.get(interaction.id) || { body: '', hint: '' };
  const { reply } = kind;
  const hint = draft.hint || (reply.enterSends ? 'Enter sends, Shift+Enter starts a new line' : '');
  return html`
    <form id="reply" class="reply" data-id="${interaction.id}" data-kind="${interaction.kind}" autocomplete="off">
      <label class="sr-only" for="reply-body">Message</label>
      <textarea id="reply-body" name="body" rows="3" maxlength="${reply.limit}" required data-focus="reply-body"
        placeholder="${reply.placeholder}" aria-describedby="reply-hint">${draft.body}</textarea>
      <small id="reply-hint">${hint}</small>
      <button class="primary" type="submit" data-focus="send-reply">Send</button>
    </form>`;
}

// The thread as the server has it now; "Loading…" until a thread shown for the first time is in (and after a
// refusal, which the notice says: the panel asks once, not again at each redraw). A form whose messages cannot be
// read shows the message its row has.
export async function loadThread(interaction) {
  const { id } = interaction;
  if (!state.threads.get(id)) update((s) => { s.threads.set(id, null); });
  try {
    const thread = await api('GET', `/api/v1/interactions/${id}/messages`);
    update((s) => applyThread(s, id, thread));
  } catch (error) {
    if (interaction.kind === 'form') update((s) => applyThread(s, id, []));
    else say(refusal(error), id);
  }
}

export async function respond(interaction) {
  let taken;
  try {
    taken = await api('POST', `/api/v1/interactions/${interaction.id}/respond`);
  } catch (error) {
    if (error.status !== 409) throw error;
    // Another agent responded first (or the time to respond ran out): show the conversation as it is now.
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

// Close text, End Chat (the visitor is told), or Close a form: it moves to Recent.
export async function close(interaction) {
  const closed = await api('POST', `/api/v1/interactions/${interaction.id}/close`);
  update((s) => { putInteraction(s, closed); });
}

export async function sendReply(form) {
  const id = Number(form.dataset.id);
  const body = String(new FormData(form).get('body') || '');
  if (!body.trim()) return;
  try {
    const sent = await api('POST', `/api/v1/interactions/${id}/messages`, { body });
    // Emptied here too: typing does not redraw, so the redraw for the emptied draft may find nothing changed.
    form.elements.body.value = '';
    update((s) => {
      s.replies.delete(id);
      s.typingSentAt.delete(id); // the next word typed says so again at once
      applyMessage(s, id, sent);
    });
  } catch (error) {
    say(refusal(error), id);
  }
}

// Enter sends a chat message (Shift+Enter is a new line); a text's box keeps Enter for new lines (Ctrl+Enter).
export function enterPressed(event) {
  const { form } = event.target;
  if (form?.id !== 'reply' || event.shiftKey || event.isComposing || !KINDS[form.dataset.kind]?.reply?.enterSends) {
    return;
  }
  event.preventDefault();
  form.requestSubmit();
}

// What the agent types is kept per conversation (a live redraw shows it again). A text's hint says how many texts
// it will go out as, from the server's own count (GSM-7 or UCS-2 decides the length of a part); a chat's visitor
// is told the agent is typing, at most every TYPING_EVERY_MS.
export function typed(form, body) {
  const id = Number(form.dataset.id);
  const { reply } = KINDS[form.dataset.kind];
  update((s) => { s.replies.set(id, { hint: '', ...s.replies.get(id), body }); }, QUIET);
  if (reply.parts) later('draft', DRAFT_DELAY_MS, () => describe(id, body).catch(() => {}));
  if (form.dataset.kind === 'chat' && body.trim()) tellTyping(id);
}

function tellTyping(id) {
  const now = Date.now();
  if (now - (state.typingSentAt.get(id) ?? 0) < TYPING_EVERY_MS) return;
  update((s) => { s.typingSentAt.set(id, now); }, QUIET);
  api('POST', `/api/v1/interactions/${id}/typing`).catch(() => {}); // a lost "typing" is not worth a notice
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
