// Getting the agent's attention: the microphone check at sign-in, and, when the tab is in the background, a
// desktop notification and a ring for each call that starts ringing on the softphone, and a notification for each
// message a lead or a website visitor sends that waits in my Incoming or comes in one of my Active conversations
// (texts, chats, forms). A chat also chimes: a new one (or its visitor writing again while it waits) even in the
// foreground, a visitor's message in my Active chat when the tab is in the background.

import { QUIET, inbox, state, subscribe, update } from './store.js';
import { leadName } from './html.js';

export async function checkMicrophone() {
  // Asking for a stream is what makes the browser prompt when permission is not yet decided; the stream itself
  // is not needed now (the softphone opens its own per call).
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    stream.getTracks().forEach((track) => track.stop());
    update((s) => { s.microphone = 'granted'; });
  } catch (error) {
    update((s) => { s.microphone = error.name === 'NotFoundError' ? 'missing' : 'denied'; });
  }
}

export function askForNotifications() {
  if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission();
}


function notify(title, body, tag) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const note = new Notification(title, { body, tag });
  note.onclick = () => { window.focus(); note.close(); };
}

function ring(on) {
  if (on && !state.ringer) {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 440;
    gain.gain.value = 0;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    // The usual ring cadence: 2 s on, 4 s off.
    const cadence = setInterval(() => {
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.setValueAtTime(0, audio.currentTime + 2);
    }, 6000);
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.setValueAtTime(0, audio.currentTime + 2);
    update((s) => { s.ringer = { audio, cadence }; }, QUIET);
  } else if (!on && state.ringer) {
    clearInterval(state.ringer.cadence);
    state.ringer.audio.close();
    update((s) => { s.ringer = null; }, QUIET);
  }
}

// Once each: a notification shown (key: a call id, or a text's interaction and time) is not shown again.
function alertOnce(key, show) {
  if (state.alerted.has(key)) return;
  update((s) => { s.alerted.add(key); }, QUIET);
  show();
}

// A chat's chime: two short notes synthesized here (no audio file). Browsers let a page make sound only once the
// user has interacted with it (sticky activation): before that, nothing plays rather than a context left waiting.
const CHIME = [[880, 0], [1320, 0.15]]; // [Hz, seconds from now]
const NOTE_SECONDS = 0.13;

function chime() {
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  const audio = new AudioContext();
  for (const [frequency, after] of CHIME) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    const start = audio.currentTime + after;
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + NOTE_SECONDS);
    tone.connect(gain).connect(audio.destination);
    tone.start(start);
    tone.stop(start + NOTE_SECONDS);
  }
  setTimeout(() => audio.close(), 1000);
}

// Both watches are effects: they follow the store and change only what was rung and shown.
export function watch() {
  subscribe(ringing);
  document.addEventListener('visibilitychange', () => ringing(state));
  subscribe(conversations);
}

function ringing(s) {
  const callIds = [...s.calls].filter(([, call]) => call.state === 'ringing').map(([callId]) => callId);
  ring(document.hidden && callIds.length > 0);
  if (!document.hidden) return;
  for (const callId of callIds) {
    alertOnce(callId, () => {
      const interaction = inbox(s).incoming.find((i) => i.call_id === callId);
      notify('Incoming call', interaction ? `${leadName(interaction)} — ${interaction.tracking_number?.name || ''}`
        : 'A caller is waiting', callId);
    });
  }
}

// What each kind of conversation's new message is called: its first (a new conversation), and the next ones.
const NEWS = {
  text: { first: 'New text', next: 'New text', chimes: false },
  chat: { first: 'New chat', next: 'New chat message', chimes: true },
  form: { first: 'New form submission', next: 'New form submission', chimes: false },
};

// A lead's or a visitor's message newer than the app's start, waiting in my Incoming or in my Active conversation.
function conversations(s) {
  const box = inbox(s);
  for (const interaction of [...box.incoming, ...box.active]) {
    const news = NEWS[interaction.kind];
    const last = interaction.last_message;
    if (!news || last?.direction !== 'inbound' || Date.parse(last.created_at) < s.startedAt) continue;
    const waiting = interaction.status === 'incoming';
    if (!document.hidden && !(news.chimes && waiting)) continue;
    const key = `${interaction.id}:${last.created_at}`;
    alertOnce(key, () => {
      if (news.chimes) chime();
      const title = waiting && interaction.message_count <= 1 ? news.first : news.next;
      if (document.hidden) notify(title, `${leadName(interaction)}: ${last.body}`, key);
    });
  }
}
