// My profile (shown in the interaction panel): the chat display name, which chats I get emails about, and my
// voicemail greeting. A greeting file the agent picks is converted here into what Asterisk plays as it is (WAV,
// mono, 16-bit, 8 kHz).

import { api, refusal } from './api.js';
import { html } from './html.js';
import { applyAgent, state, update } from './store.js';

const GREETING_RATE = 8000;

// The form, and my greeting (the panel asks the server about it the first time it shows the form: loadGreeting).
export function profileForm(s) {
  const { greeting } = s;
  return html`
    <form id="profile" class="dialer">
      <label>Chat display name <input name="chat_display_name" required maxlength="100" data-focus="chat-name"
        value="${s.me?.chat_display_name}"></label>
      <small>What leads see when you answer a chat.</small>
      ${emailChoices(s.me)}
      <p><button class="primary" type="submit">Save</button> <span class="saved-marker" role="status">${s.profileSaved ? 'Saved' : ''}</span></p>
    </form>
    <section class="greeting" aria-label="Voicemail greeting">
      <h3>Voicemail greeting</h3>
      ${greeting.custom ? html`<p><audio controls preload="none" src="/api/v1/me/voicemail-greeting?v=${greeting.version}"></audio>
          <button type="button" data-action="standard-greeting">Use the standard greeting</button></p>`
        : html`<p class="empty">Callers hear the standard greeting.</p>`}
      <label>Upload a greeting (any audio file, up to 60 s)
        <input type="file" name="greeting" accept="audio/*" data-focus="greeting-file"></label>
      <p class="saved-marker" role="status">${greeting.status}</p>
    </section>`;
}

// Which website chats (and my own voicemail) I get an email about (GET /api/v1/me/agent has my choices and whether this server sends
// email at all: without an SMTP server the choices are kept, and the form says nothing is sent).
function emailChoices(me) {
  if (me?.email_configured === undefined) return '';
  const off = me.email_configured ? '' : 'disabled';
  return html`
    <fieldset class="email-choices">
      <legend>Email me</legend>
      <label class="check"><input type="checkbox" name="email_new_chats" ${me.email_new_chats ? 'checked' : ''} ${off}
        data-focus="email-new"> when a chat is offered to me</label>
      <label class="check"><input type="checkbox" name="email_missed_chats" ${me.email_missed_chats ? 'checked' : ''}
        ${off} data-focus="email-missed"> when nobody answers a chat, or a visitor leaves a message while nobody is
        online (even while I am Offline)</label>
      <label class="check"><input type="checkbox" name="email_voicemail" ${me.email_voicemail ? 'checked' : ''}
        ${off} data-focus="email-voicemail"> when a caller leaves a message in my mailbox (the recording attached)</label>
      <small>${me.email_configured ? `Sent to ${me.email_address}.`
        : 'Email is not set up on this server: nothing is sent until an administrator configures SMTP.'}</small>
    </fieldset>`;
}

export async function saveProfile(form) {
  const changes = { chat_display_name: String(form.get('chat_display_name')) };
  if (state.me?.email_configured) {
    changes.email_new_chats = form.get('email_new_chats') === 'on';
    changes.email_missed_chats = form.get('email_missed_chats') === 'on';
    changes.email_voicemail = form.get('email_voicemail') === 'on';
  }
  const me = await api('PATCH', '/api/v1/me/agent', changes);
  update((s) => { applyAgent(s, me); s.profileSaved = true; });
}

export async function uploadGreeting(file) {
  update((s) => { s.greeting.status = 'Saving…'; });
  try {
    await api('PUT', '/api/v1/me/voicemail-greeting', await toGreetingWav(file));
    update((s) => { Object.assign(s.greeting, { custom: true, version: s.greeting.version + 1, status: 'Saved' }); });
  } catch (error) {
    update((s) => { s.greeting.status = `Not saved: ${refusal(error)}`; });
  }
}

export async function useStandardGreeting() {
  await api('DELETE', '/api/v1/me/voicemail-greeting');
  update((s) => { Object.assign(s.greeting, { custom: false, status: 'Saved' }); });
}

export async function loadGreeting() {
  update((s) => { s.greeting.known = true; });
  const answer = await fetch('/api/v1/me/voicemail-greeting', { method: 'HEAD', credentials: 'same-origin' });
  update((s) => { s.greeting.custom = answer.ok; });
}

async function toGreetingWav(file) {
  const decoded = await new AudioContext().decodeAudioData(await file.arrayBuffer());
  // Rendering into one channel at 8 kHz mixes down and resamples in one go.
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * GREETING_RATE), GREETING_RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const samples = (await offline.startRendering()).getChannelData(0);
  const wav = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, value) => [...value].forEach((c, i) => wav.setUint8(offset + i, c.charCodeAt(0)));
  text(0, 'RIFF'); wav.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVE');
  text(12, 'fmt '); wav.setUint32(16, 16, true); wav.setUint16(20, 1, true); wav.setUint16(22, 1, true);
  wav.setUint32(24, GREETING_RATE, true); wav.setUint32(28, GREETING_RATE * 2, true);
  wav.setUint16(32, 2, true); wav.setUint16(34, 16, true);
  text(36, 'data'); wav.setUint32(40, samples.length * 2, true);
  samples.forEach((sample, i) => wav.setInt16(44 + i * 2, Math.max(-1, Math.min(1, sample)) * 0x7fff, true));
  return new Blob([wav], { type: 'audio/wav' });
}
