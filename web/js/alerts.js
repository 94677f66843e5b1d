// Getting the agent's attention: the microphone check at sign-in, and, when the tab is in the background, a
// desktop notification and a ring for each call that starts ringing on the softphone, and a notification for each
// text a lead sends that waits in my Incoming or comes in one of my Active conversations.

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

// Both watches are effects: they follow the store and change only what was rung and shown.
export function watch() {
  subscribe(ringing);
  document.addEventListener('visibilitychange', () => ringing(state));
  subscribe(texts);
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

// Texts: a lead's text newer than the app's start, waiting in my Incoming or in my Active conversation.
function texts(s) {
  if (!document.hidden) return;
  const box = inbox(s);
  for (const interaction of [...box.incoming, ...box.active]) {
    const last = interaction.last_message;
    if (interaction.kind !== 'text' || last?.direction !== 'inbound' || Date.parse(last.created_at) < s.startedAt) {
      continue;
    }
    const key = `${interaction.id}:${last.created_at}`;
    alertOnce(key, () => notify('New text', `${leadName(interaction)}: ${last.body}`, key));
  }
}
