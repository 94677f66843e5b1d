// The chat widget, inside its iframe (/w/<public key>, Lead Center's own origin, so the business's CSS and scripts
// cannot reach it). It speaks the visitor websocket (/api/v1/visitor, docs/architecture.md "Website chat"): hello
// with the visitor's key, then the welcome (greeting, colour, pre-chat fields, who is online, the chat so far), then
// messages both ways. The snippet on the business's page (snippet.js) keeps the visitor's key in the site's own
// storage and hands it over in its init message; opened on its own (no parent), the widget keeps it itself.
// Everything anyone typed reaches the page as text (textContent), never as HTML.

const KEY = decodeURIComponent(location.pathname.split('/')[2] || '');
const SOCKET_URL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/visitor?key=${
  encodeURIComponent(KEY)}`;
const VISITOR_KEY = /^[\w-]{16,64}$/;
const FIELDS = ['name', 'phone', 'email'];
const LIVE = new Set(['incoming', 'active']); // a chat's interaction status while it goes on
const TYPING_EVERY_MS = 3000; // at most one typing frame while the visitor types, so many keystrokes are one frame
const TYPING_SHOWN_MS = 5000; // the agent's "is typing" goes when no typing frame came for this long
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;
const NOTICE_MS = 6000;
// Close codes after which trying again cannot help: the key is unknown or its widget disabled.
const FINAL_CLOSE = new Set([4403, 4404]);
const NOBODY_ONLINE = 'nobody-online'; // the error id of a start refused for that: offer the offline form
const TEXT = {
  online: 'We are online',
  away: 'Leave us a message',
  waiting: 'Waiting for someone to answer…',
  offline: 'Nobody is available to chat right now. Leave your phone number or email and we will get back to you.',
  missed: 'Sorry, nobody could answer in time. Leave your phone number or email and we will get back to you.',
  reconnecting: 'Connection lost. Reconnecting…',
  unavailable: 'Chat is not available right now.',
};

const $ = (id) => document.getElementById(id);

// Everything the widget knows; render() draws it.
const state = {
  parent: null, // the business page's origin, from the snippet's init message (null: not framed, or not yet)
  started: false, // connecting started (framed: once the snippet's init arrived)
  visitor: null, // the visitor's key (the server issues it in the first welcome)
  page: { url: '', title: '', referrer: '' }, // where the visitor is, for hello and page frames
  open: true, // whether the visitor can see the widget (the snippet's launcher opened it)
  socket: null,
  connected: false, // the current socket got its welcome
  attempts: 0, // reconnections since the last welcome, for the backoff
  retry: null, // the timer of the next reconnection
  finished: false, // the server refused the key for good: no more reconnecting
  widget: null, // {greeting, color, position, prechat}
  online: false,
  view: 'loading', // loading | prechat | chat | offline | left (the offline form was sent)
  missed: false, // the offline form is offered because nobody answered the chat in time
  contact: {}, // what the visitor gave in the pre-chat form ({name, phone, email}), for the offline form
  chat: null, // {id, status, agent, endedBy}
  // {key (what its element is known by), id, client_id, direction, body, created_at, status: sending|failed|stored,
  // reason, frame (what was sent, to send again)}
  messages: [],
  typing: { name: '', until: 0 },
  typingSentAt: 0,
  pending: new Map(), // client_id -> the start or offline_form frame waiting for its ack
  seq: 0, // for client ids
  notice: { text: '', until: 0 }, // a refusal that concerns no form or message (shown a few seconds)
};

// --- the connection ------------------------------------------------------------------------------------------

function connect() {
  state.started = true;
  const socket = new WebSocket(SOCKET_URL);
  state.socket = socket;
  socket.addEventListener('open', () => {
    socket.send(JSON.stringify({ type: 'hello', visitor: state.visitor, page: state.page }));
  });
  socket.addEventListener('message', (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (Object.hasOwn(RECEIVE, frame?.type)) RECEIVE[frame.type](frame);
    render();
  });
  socket.addEventListener('close', (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.connected = false;
    if (FINAL_CLOSE.has(event.code)) state.finished = true;
    else reconnectLater();
    render();
  });
}

function reconnectLater() {
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempts);
  state.attempts += 1;
  // Jittered, so that a restarted server does not get every visitor back in the same instant.
  state.retry = setTimeout(reconnectNow, delay * (0.5 + Math.random() / 2));
}

function reconnectNow() {
  clearTimeout(state.retry);
  state.retry = null;
  connect();
}

// Only once welcomed: what is sent before is sent again after the welcome (resend), and would go twice.
function send(frame) {
  if (!state.connected || state.socket?.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify(frame));
  return true;
}

function clientId() {
  state.seq += 1;
  return `${Date.now().toString(36)}-${state.seq}`;
}

// --- what the server says --------------------------------------------------------------------------------------

const RECEIVE = {
  welcome(frame) {
    const first = state.view === 'loading';
    state.connected = true;
    state.attempts = 0;
    remember(frame.visitor);
    state.widget = frame.widget || state.widget;
    state.online = Boolean(frame.online);
    look();
    // A chat going on is shown wherever the visitor was; an ended one only where it was already, or on arrival.
    const chat = frame.chat;
    if (chat && (LIVE.has(chat.status) || state.view === 'chat' || state.view === 'loading')) {
      const same = state.chat?.id === chat.id;
      state.chat = { id: chat.id, status: chat.status, agent: chat.agent ?? (same ? state.chat.agent : null),
        endedBy: LIVE.has(chat.status) ? null : (same ? state.chat.endedBy : null) };
      restore(chat.messages || []);
      state.view = 'chat';
    } else if (state.view === 'loading' || state.view === 'prechat') {
      state.view = state.online ? 'prechat' : 'offline';
    }
    resend();
    tellParent({ lc: 'chat', active: live() });
    if (first) setTimeout(focusFirst); // once drawn
  },
  message(frame) {
    const m = frame.message;
    if (!m) return;
    if (state.chat && state.chat.id == null) state.chat.id = m.interaction_id; // started here, acked before
    else if (state.chat?.id !== m.interaction_id) { // a new chat (perhaps started in another tab of the site)
      state.chat = { id: m.interaction_id, status: 'incoming', agent: null, endedBy: null };
      state.messages = state.messages.filter((k) => k.status === 'sending' && k.frame.type === 'start');
      state.view = 'chat';
      tellParent({ lc: 'chat', active: true });
    }
    const known = state.messages.find((k) => k.id === m.id)
      // my own message, echoed before its ack (or sent from another tab: then there is none to match)
      ?? (m.direction === 'inbound' ? state.messages.find((k) => k.status === 'sending' && k.body === m.body) : null);
    if (known) Object.assign(known, stored(m)); // keeps its key: the visitor's screen does not redraw it
    else state.messages.push({ key: `m${m.id}`, ...stored(m) });
    if (m.direction === 'outbound') {
      state.typing.until = 0;
      if (!state.open || document.hidden) tellParent({ lc: 'unread' });
    }
  },
  ack(frame) {
    const waiting = state.pending.get(frame.client_id);
    state.pending.delete(frame.client_id);
    const message = state.messages.find((k) => k.client_id === frame.client_id);
    if (message && frame.message_id != null) Object.assign(message, { id: frame.message_id, status: 'stored' });
    if (waiting?.type === 'offline_form') {
      $('offline').reset();
      state.view = 'left';
    } else if (waiting?.type === 'start') {
      $('prechat').reset();
      state.chat ??= { id: null, status: 'incoming', agent: null, endedBy: null };
      tellParent({ lc: 'chat', active: true });
      setTimeout(focusFirst); // the composer, once drawn
    }
  },
  online(frame) { // someone came online or the last one went (optional: see the design's Changes)
    state.online = Boolean(frame.online);
    if (state.view === 'prechat' && !state.online) state.view = 'offline';
    else if (state.view === 'offline' && state.online && !state.missed && untouched($('offline'))) {
      state.view = 'prechat';
    }
  },
  agent(frame) {
    state.chat = { ...(state.chat || { id: null, endedBy: null }), status: 'active', agent: frame.chat_display_name };
  },
  typing(frame) {
    state.typing = { name: frame.agent_name || state.chat?.agent || '', until: Date.now() + TYPING_SHOWN_MS };
    setTimeout(render, TYPING_SHOWN_MS + 50);
  },
  ended(frame) {
    if (state.chat) Object.assign(state.chat, { status: 'recent', endedBy: frame.by || 'agent' });
    state.typing.until = 0;
    tellParent({ lc: 'chat', active: false });
  },
  missed() {
    if (state.chat) Object.assign(state.chat, { status: 'recent', endedBy: 'timeout' });
    offerOfflineForm(true);
    tellParent({ lc: 'chat', active: false });
  },
  error(frame) {
    const waiting = state.pending.get(frame.client_id);
    state.pending.delete(frame.client_id);
    const message = state.messages.find((k) => k.client_id === frame.client_id && k.id == null);
    if (waiting?.type === 'start' && frame.error === NOBODY_ONLINE) {
      state.messages = state.messages.filter((k) => k !== message);
      state.online = false;
      offerOfflineForm(false);
    } else if (waiting) { // the form it came from says what is wrong, as the server words it
      state.messages = state.messages.filter((k) => k !== message);
      state.view = waiting.type === 'start' ? 'prechat' : 'offline';
      formError(state.view, frame.message || 'Please check the form.');
    } else if (message) {
      Object.assign(message, { status: 'failed', reason: frame.message || 'not sent' });
    } else {
      state.notice = { text: frame.message || 'Something went wrong.', until: Date.now() + NOTICE_MS };
      setTimeout(render, NOTICE_MS + 50);
    }
  },
};

// A message of the visitor's, from the moment they send it until its ack.
function sending(frame) {
  return { key: `c${frame.client_id}`, id: null, client_id: frame.client_id, direction: 'inbound', body: frame.body,
    created_at: new Date().toISOString(), status: 'sending', reason: '', frame };
}

function stored(m) {
  return { id: m.id, client_id: null, direction: m.direction, body: m.body, created_at: m.created_at,
    status: 'stored', reason: '', frame: null };
}

// The chat as the server has it, after a (re)connection; what this tab sent that the server does not have yet
// (its socket dropped before the ack) stays, to be sent again.
function restore(messages) {
  const unsent = state.messages.filter((k) => k.status === 'sending');
  const known = new Set(state.messages.map((k) => k.id));
  const fresh = messages.map((m) => ({ key: `m${m.id}`, ...stored(m) }));
  const matched = new Set(fresh.filter((f) => known.has(f.id))); // "ok" said twice is not the first one again
  state.messages = fresh.concat(unsent.filter((k) => {
    const same = fresh.find((f) => f.direction === 'inbound' && f.body === k.body && !matched.has(f));
    if (!same) return true;
    matched.add(same);
    state.pending.delete(k.client_id); // stored, its ack lost with the old socket
    return false;
  }));
}

function resend() {
  for (const message of state.messages) {
    if (message.status === 'sending' && message.frame) send(message.frame);
  }
  for (const frame of state.pending.values()) {
    if (frame.type === 'offline_form') send(frame);
  }
}

function remember(visitor) {
  if (!VISITOR_KEY.test(visitor || '') || visitor === state.visitor) return;
  state.visitor = visitor;
  if (state.parent) tellParent({ lc: 'visitor', visitor });
  else {
    try { localStorage.setItem(`lc-visitor:${KEY}`, visitor); } catch { /* storage off: this page only */ }
  }
}

function live() {
  return Boolean(state.chat) && LIVE.has(state.chat.status);
}

function offerOfflineForm(missed) {
  state.missed = missed;
  state.view = 'offline';
  const form = $('offline');
  for (const field of FIELDS) { // what the visitor already told us
    if (!form.elements[field].value) form.elements[field].value = state.contact[field] || '';
  }
  if (!form.elements.body.value) {
    const first = state.messages.find((k) => k.direction === 'inbound');
    form.elements.body.value = first?.body || $('prechat').elements.body.value;
  }
}

// --- what the visitor does ---------------------------------------------------------------------------------

function startChat(event) {
  event.preventDefault();
  const form = event.target;
  const frame = { type: 'start', client_id: clientId(), body: form.elements.body.value.trim() };
  const missing = [];
  for (const field of FIELDS) {
    const setting = state.widget?.prechat?.[field] || 'off';
    const value = form.elements[field].value.trim();
    if (setting === 'off') continue;
    if (value) frame[field] = value;
    else if (setting === 'required') missing.push(label(field));
  }
  if (!frame.body) missing.push('a message');
  const problem = missing.length ? `Please fill in ${missing.join(', ')}.` : badEmail(frame.email);
  formError('prechat', problem || '');
  if (problem) return;
  state.contact = { name: frame.name, phone: frame.phone, email: frame.email };
  state.pending.set(frame.client_id, frame);
  state.messages.push(sending(frame));
  state.view = 'chat';
  send(frame);
  render();
}

function sendOfflineForm(event) {
  event.preventDefault();
  const form = event.target;
  const frame = { type: 'offline_form', client_id: clientId(), body: form.elements.body.value.trim() };
  for (const field of FIELDS) {
    const value = form.elements[field].value.trim();
    if (value) frame[field] = value;
  }
  const problem = !frame.phone && !frame.email ? 'Please leave a phone number or an email address.'
    : !frame.body ? 'Please write a message.' : badEmail(frame.email);
  formError('offline', problem || '');
  if (!problem) {
    state.pending.set(frame.client_id, frame);
    send(frame);
  }
  render();
}

function say(event) {
  event.preventDefault();
  const box = $('say');
  const body = box.value.trim();
  if (!body || !live()) return;
  const frame = { type: 'say', client_id: clientId(), body };
  state.messages.push(sending(frame));
  box.value = '';
  fit(box);
  send(frame); // when the socket is down, the message waits as "Sending" and goes after the next welcome
  render();
}

// Enter sends, Shift+Enter is a new line (and Enter while an input method composes a word is the IME's).
function composerKey(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
}

function typed() {
  fit($('say'));
  if (live() && Date.now() - state.typingSentAt > TYPING_EVERY_MS && send({ type: 'typing' })) {
    state.typingSentAt = Date.now();
  }
}

function startAgain() {
  state.chat = null;
  state.messages = [];
  state.missed = false;
  state.view = state.online ? 'prechat' : 'offline';
  render();
  focusFirst();
}

function badEmail(email) {
  return email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? 'That email address does not look right.' : '';
}

function label(field) {
  return { name: 'your name', phone: 'your phone number', email: 'your email' }[field];
}

function formError(form, text) {
  $(form).querySelector('.error').textContent = text;
}

function untouched(form) {
  return [...form.elements].every((field) => !field.value || field.type === 'submit');
}

// The composer grows with what is typed, up to the CSS max-height.
function fit(box) {
  box.style.height = 'auto';
  box.style.height = `${box.scrollHeight}px`;
}

// Only when the visitor put the focus here (the launcher's click does): a page that opens with the widget open, or
// loads it hidden, keeps its own focus.
function focusFirst() {
  if (!state.open || !document.hasFocus()) return;
  const visible = [$('composer'), $('prechat'), $('offline')].find((form) => !form.hidden);
  visible?.querySelector('textarea, input:not([disabled])')?.focus();
}

// --- the snippet on the business's page ------------------------------------------------------------------------

function tellParent(message) {
  if (state.parent) window.parent.postMessage(message, state.parent);
}

const FROM_PARENT = {
  init(message, origin) {
    if (state.started) return;
    state.parent = origin;
    if (VISITOR_KEY.test(message.visitor || '')) state.visitor = message.visitor;
    state.page = page(message.page);
    state.open = Boolean(message.open);
    connect();
  },
  open(message) {
    state.open = Boolean(message.open);
    focusFirst();
  },
  page(message) {
    state.page = page(message.page);
    send({ type: 'page', ...state.page });
  },
};

function page(given) {
  const text = (value) => String(value ?? '').slice(0, 2000);
  return { url: text(given?.url), title: text(given?.title), referrer: text(given?.referrer) };
}

function fromParent(event) {
  const message = event.data;
  if (event.source !== window.parent || window.parent === window) return;
  if (Object.hasOwn(FROM_PARENT, message?.lc)) FROM_PARENT[message.lc](message, event.origin);
}

// --- drawing ---------------------------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function timeOf(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? '' : when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function messageItem(m) {
  const item = el('li', `message ${m.direction === 'inbound' ? 'mine' : 'theirs'} ${m.status}`);
  item.dataset.key = m.key;
  item.append(el('p', 'text', m.body));
  const who = m.direction === 'inbound' ? '' : `${state.chat?.agent || 'Agent'} - `;
  const note = m.status === 'sending' ? 'Sending…' : m.status === 'failed' ? `Not sent: ${m.reason}`
    : `${who}${timeOf(m.created_at)}`;
  item.append(el('small', 'meta', note));
  return item;
}

// The list becomes ``items``, touching only what changed: the conversation is a live region (role log), and a
// screen reader reads each element added, so a redraw must add only what is new.
function patchList(list, items) {
  const keys = new Set(items.map((item) => item.dataset.key));
  const old = new Map();
  for (const child of [...list.children]) {
    if (keys.has(child.dataset.key)) old.set(child.dataset.key, child);
    else child.remove();
  }
  items.forEach((item, index) => {
    let node = old.get(item.dataset.key) || item;
    if (!node.isEqualNode(item)) { // changed (sent, failed): in its place
      node.replaceWith(item);
      node = item;
    }
    if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
  });
}

function look() {
  const colour = /^#[0-9a-f]{6}$/i.test(state.widget?.color || '') ? state.widget.color : '#1f6feb';
  const rgb = parseInt(colour.slice(1), 16);
  const light = ((rgb >> 16) * 299 + ((rgb >> 8) & 255) * 587 + (rgb & 255) * 114) > 160000;
  document.documentElement.style.setProperty('--accent', colour);
  document.documentElement.style.setProperty('--accent-ink', light ? '#1d2330' : '#fff');
}

function presence() {
  if (live()) return state.chat.agent ? `${state.chat.agent} is chatting with you` : TEXT.waiting;
  return state.online ? TEXT.online : TEXT.away;
}

function endedText() {
  const by = state.chat?.endedBy;
  if (by === 'visitor') return 'You ended the chat.';
  if (by === 'agent') return `${state.chat.agent || 'The agent'} has ended the chat.`;
  return 'The chat has ended.';
}

// Text set only when it changes: the status lines are live regions, read out at every change.
function setText(id, text) {
  if ($(id).textContent !== text) $(id).textContent = text;
}

function render() {
  const { view } = state;
  setText('greeting', state.widget?.greeting || 'Chat with us');
  setText('presence', state.widget ? presence() : '');
  $('minimise').hidden = !state.parent;
  $('end').hidden = !(view === 'chat' && live());
  $('loading').hidden = view !== 'loading';
  setText('loading', state.finished ? TEXT.unavailable : 'Connecting…');

  $('connection').hidden = !(state.started && !state.connected && view !== 'loading');
  setText('connection', state.finished ? TEXT.unavailable : TEXT.reconnecting);
  $('notice').hidden = state.notice.until <= Date.now();
  setText('notice', state.notice.text);

  const chatting = view === 'chat';
  const list = $('messages');
  const body = $('body');
  const atBottom = body.scrollTop + body.clientHeight >= body.scrollHeight - 24;
  list.hidden = !chatting;
  patchList(list, chatting ? state.messages.map(messageItem) : []);
  const typing = chatting && live() && state.typing.until > Date.now();
  $('typing').hidden = !typing;
  setText('typing', typing ? `${state.typing.name || 'The agent'} is typing…` : '');
  $('ended').hidden = !(chatting && state.chat && !live() && !state.pending.size);
  setText('ended-text', endedText());
  $('composer').hidden = !(chatting && live());
  if (atBottom) body.scrollTop = body.scrollHeight;

  const prechat = $('prechat');
  prechat.hidden = view !== 'prechat';
  for (const field of FIELDS) {
    const setting = state.widget?.prechat?.[field] || 'off';
    const row = prechat.querySelector(`[data-field="${field}"]`);
    row.hidden = setting === 'off';
    prechat.elements[field].required = setting === 'required';
    row.querySelector('.optional').hidden = setting !== 'optional';
  }
  $('offline').hidden = view !== 'offline';
  setText('offline-intro', state.missed ? TEXT.missed : TEXT.offline);
  $('left').hidden = view !== 'left';
}

// --- start -----------------------------------------------------------------------------------------------------

$('prechat').addEventListener('submit', startChat);
$('offline').addEventListener('submit', sendOfflineForm);
$('composer').addEventListener('submit', say);
$('say').addEventListener('keydown', composerKey);
$('say').addEventListener('input', typed);
$('again').addEventListener('click', startAgain);
$('end').addEventListener('click', () => send({ type: 'end' }));
$('minimise').addEventListener('click', () => tellParent({ lc: 'close' }));
document.addEventListener('keydown', (event) => { if (event.key === 'Escape') tellParent({ lc: 'close' }); });
addEventListener('message', fromParent);
addEventListener('online', () => { if (state.retry) reconnectNow(); }); // the network is back: no need to wait
render();

if (window.parent === window) { // opened on its own: Lead Center's origin keeps the visitor's key
  try { state.visitor = localStorage.getItem(`lc-visitor:${KEY}`); } catch { /* storage off */ }
  state.page = page({ url: location.href, title: document.title, referrer: document.referrer });
  connect();
} else {
  window.parent.postMessage({ lc: 'ready' }, '*'); // nothing secret: the snippet answers with its init
}
