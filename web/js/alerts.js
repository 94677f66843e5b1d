// Getting the agent's attention: the microphone check at sign-in, and, when the tab is in the background, a
// desktop notification and a ring for each call that starts ringing on the softphone, and a notification for each
// text a lead sends that waits in my Incoming or comes in one of my Active conversations.

import { subscribe, update, state, inbox } from './store.js';
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

let ringer = null;

function notify(title, body, tag) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const note = new Notification(title, { body, tag });
  note.onclick = () => { window.focus(); note.close(); };
}

function ring(on) {
  if (on && !ringer) {
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
    ringer = { audio, cadence };
  } else if (!on && ringer) {
    clearInterval(ringer.cadence);
    ringer.audio.close();
    ringer = null;
  }
}

export function watchRinging() {
  const notified = new Set();
  const onChange = (s) => {
    const ringing = [...s.calls].filter(([, call]) => call.state === 'ringing').map(([callId]) => callId);
    ring(document.hidden && ringing.length > 0);
    if (!document.hidden) return;
    for (const callId of ringing) {
      if (notified.has(callId)) continue;
      notified.add(callId);
      const interaction = inbox(s).incoming.find((i) => i.call_id === callId);
      notify('Incoming call', interaction ? `${leadName(interaction)} — ${interaction.tracking_number?.name || ''}`
        : 'A caller is waiting', callId);
    }
  };
  subscribe(onChange);
  document.addEventListener('visibilitychange', () => onChange(state));
}

// Texts: a lead's text newer than this page, waiting in my Incoming or in my Active conversation, once each.
export function watchTexts() {
  const since = Date.now();
  const notified = new Set();
  subscribe((s) => {
    if (!document.hidden) return;
    const box = inbox(s);
    for (const interaction of [...box.incoming, ...box.active]) {
      const last = interaction.last_message;
      if (interaction.kind !== 'text' || last?.direction !== 'inbound' || Date.parse(last.created_at) < since) continue;
      const key = `${interaction.id}:${last.created_at}`;
      if (notified.has(key)) continue;
      notified.add(key);
      notify('New text', `${leadName(interaction)}: ${last.body}`, key);
    }
  });
}
