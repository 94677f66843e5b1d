// The browser softphone: JsSIP (bundled at set-up into /vendor/jssip.js, window.JsSIP) registered as the agent's
// webrtc device over the app's own /sip websocket. Calls are keyed by the lead's call id (X-LC-Call, the
// interaction's call_id), which is how the inbox's Answer and Decline and the softphone are one thing.

import { api } from './api.js';
import { NO_RELAY, QUIET, cancel, later, state, update } from './store.js';

const MEDIA = { audio: true, video: false };
const ICE_RETRY_MS = 30_000; // a refresh that failed (network, server restart) is tried again this soon
const GATHERING_MS = 2000; // see track()
const EARLY_ANSWER_MS = 15_000; // see answerWhenItRings()

export function start() {
  return api('GET', '/api/v1/me/softphone').then((account) => {
    useIce(account);
    register(account);
  }).catch((error) => {
    update((s) => { s.softphone = { status: 'failed', error: error.message }; });
  });
}

// The TURN relays and credentials calls are answered with (none on a LAN); fetched again halfway through the
// credentials' lifetime, so that a call answered late in a long shift still gets a relay (one under way keeps its
// relay when they expire).
function useIce(account) {
  const rtc = { iceServers: account.ice_servers, iceTransportPolicy: account.ice_transport_policy };
  update((s) => { s.phone.rtc = rtc; }, QUIET);
  if (account.ice_refresh_seconds) later('ice', account.ice_refresh_seconds * 1000, refreshIce);
}

function refreshIce() {
  const signedIn = () => state.phone.ua; // stop() (sign-out) ends the refreshing, also one under way
  api('GET', '/api/v1/me/softphone').then((account) => { if (signedIn()) useIce(account); }).catch(() => {
    if (signedIn()) later('ice', ICE_RETRY_MS, refreshIce);
  });
}

function register(account) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new window.JsSIP.WebSocketInterface(`${scheme}://${location.host}${account.websocket_path}`);
  const ua = new window.JsSIP.UA({
    sockets: [socket], uri: account.sip_uri, password: account.password, display_name: account.display_name,
    register: true, register_expires: 120, session_timers: false, user_agent: 'Lead Center',
    // After a network drop JsSIP reconnects within these bounds and registers again.
    connection_recovery_min_interval: 1, connection_recovery_max_interval: 8,
  });
  const status = (value, error = '') => update((s) => { s.softphone = { status: value, error }; });
  ua.on('connecting', () => status('connecting'));
  ua.on('registered', () => status('registered'));
  ua.on('unregistered', () => status('unregistered'));
  ua.on('disconnected', () => status('connecting'));
  ua.on('registrationFailed', (e) => status('failed', e.cause));
  ua.on('newRTCSession', ({ originator, session, request }) => {
    if (originator === 'remote') ringing(session, request);
    else track(session, `local-${Date.now()}`);
  });
  update((s) => { s.phone.ua = ua; }, QUIET);
  status('connecting');
  ua.start();
}

function ringing(session, request) {
  const callId = request.getHeader('X-LC-Call') || `unknown-${request.call_id}`;
  track(session, callId);
  setCall(callId, { state: 'ringing', from: session.remote_identity.uri.user,
    interaction: Number(request.getHeader('X-LC-Interaction')) || null }); // a transfer's (transfer.js)
  // A call the agent asked for (placed from the dialer, or answered from the inbox while ringing someone else)
  // is answered at once: Asterisk says so with Call-Info answer-after=0 (dialplan lc-auto-answer).
  if (/answer-after=0/.test(request.getHeader('Call-Info') || '') || answeredEarly(callId)) answer(callId);
}

// Answer pressed when the server offers me the call but its ring has not reached this softphone yet (the inbox
// hears of the offer first; the INVITE comes through the /sip relay): it is answered when it rings, if that is soon.
export function answerWhenItRings(callId) {
  if (answer(callId)) return;
  const now = Date.now();
  update((s) => {
    for (const [id, until] of s.phone.answering) if (until < now) s.phone.answering.delete(id);
    s.phone.answering.set(callId, now + EARLY_ANSWER_MS);
  }, QUIET);
}

function answeredEarly(callId) {
  const until = state.phone.answering.get(callId);
  if (until === undefined) return false;
  update((s) => { s.phone.answering.delete(callId); }, QUIET);
  return Date.now() <= until;
}

function track(session, callId) {
  update((s) => { s.phone.sessions.set(callId, session); }, QUIET);
  // Asterisk takes no trickled candidates, so JsSIP holds the answer (and a hold's re-INVITE) until ICE gathering
  // ends, and a firewall that drops UDP to the TURN server makes that take tens of seconds. The SDP goes as soon as
  // there is a relay candidate (a path every call can take), or shortly after the first candidate when none comes.
  session.on('icecandidate', ({ candidate, ready }) => {
    if (candidate.type === 'relay') ready();
    else setTimeout(ready, GATHERING_MS);
  });
  session.on('peerconnection', ({ peerconnection }) => attachAudio(peerconnection));
  session.on('accepted', () => setCall(callId, { state: 'live', since: Date.now() }));
  session.on('hold', () => setCall(callId, { held: true }));
  session.on('unhold', () => setCall(callId, { held: false }));
  const ended = () => update((s) => {
    s.phone.sessions.delete(callId);
    s.calls.delete(callId);
  });
  session.on('ended', ended);
  session.on('failed', ended);
}

// What the lead says plays in the page's <audio> element.
function attachAudio(peerconnection) {
  if (state.phone.heard.has(peerconnection)) return;
  update((s) => { s.phone.heard.add(peerconnection); }, QUIET);
  peerconnection.addEventListener('track', (event) => {
    const remoteAudio = document.getElementById('remote-audio');
    remoteAudio.srcObject = event.streams[0] || new MediaStream([event.track]);
    remoteAudio.play().catch(() => {}); // autoplay may wait for the next click; the call still connects
  });
}

function setCall(callId, changes) {
  update((s) => {
    s.calls.set(callId, { state: 'ringing', muted: false, held: false, since: null, ...s.calls.get(callId),
      ...changes });
  });
}

export function answer(callId) {
  const session = state.phone.sessions.get(callId);
  if (!session) return false;
  setCall(callId, { state: 'connecting' });
  session.answer({ mediaConstraints: MEDIA, pcConfig: state.phone.rtc });
  if (session.connection) attachAudio(session.connection); // JsSIP versions differ on when it says so
  return true;
}

export function hangup(callId) {
  const session = state.phone.sessions.get(callId);
  if (session && !session.isEnded()) session.terminate();
}

export function setMuted(callId, muted) {
  const session = state.phone.sessions.get(callId);
  if (!session) return;
  if (muted) session.mute({ audio: true }); else session.unmute({ audio: true });
  setCall(callId, { muted });
}

export function setHeld(callId, held) {
  const session = state.phone.sessions.get(callId);
  if (!session) return;
  if (held) session.hold(); else session.unhold();
}

export function sendDigit(callId, digit) {
  const session = state.phone.sessions.get(callId);
  if (session && session.isEstablished()) session.sendDTMF(digit, { transportType: 'RFC2833' });
}

// The live call's audio as WebRTC counts it: packets each way and the energy of what was heard and said.
export async function audioStats() {
  const session = [...state.phone.sessions.values()].find((candidate) => candidate.isEstablished());
  if (!session?.connection) return null;
  const totals = { packetsSent: 0, packetsReceived: 0, receivedEnergy: 0, sentEnergy: 0 };
  (await session.connection.getStats()).forEach((report) => {
    if (report.type === 'outbound-rtp' && report.kind === 'audio') totals.packetsSent += report.packetsSent;
    if (report.type === 'inbound-rtp' && report.kind === 'audio') {
      totals.packetsReceived += report.packetsReceived;
      totals.receivedEnergy += report.totalAudioEnergy || 0;
    }
    if (report.type === 'media-source' && report.kind === 'audio') totals.sentEnergy += report.totalAudioEnergy || 0;
  });
  return totals;
}

// The page goes away (reload, tab closed, sign-out) with a call up: its BYE says the agent's leg was lost, not hung
// up (Q.850 cause 41, temporary failure), so Asterisk keeps the lead on hold and rings this softphone again, and
// the reloaded app takes the call up (dialplan lc-agent-left).
const LEAVING = 'Reason: Q.850;cause=41;text="agent app closed"';

// Sign-out and tab close: unregister (and end calls) so Asterisk stops ringing a browser that is gone.
export function stop() {
  const { ua, sessions } = state.phone;
  cancel('ice');
  if (!ua) return;
  for (const session of sessions.values()) {
    if (session.isEstablished()) session.terminate({ extraHeaders: [LEAVING] });
  }
  ua.stop();
  update((s) => {
    s.phone = { ua: null, sessions: new Map(), heard: new WeakSet(), rtc: NO_RELAY };
    s.softphone = { status: 'off', error: '' };
    s.calls.clear();
  });
}
