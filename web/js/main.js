// The agent app: sign in (and pick a company), then the four areas over one store fed by the event stream.

import { byAction, byField, byForm, listen } from './actions.js';
import { api, refusal } from './api.js';
import { html, icon, render } from './html.js';
import { say, state, subscribe, update } from './store.js';
import * as alerts from './alerts.js';
import * as classification from './classification.js';
import * as contact from './contact.js';
import * as events from './events.js';
import * as inbox from './inbox.js';
import * as panel from './panel.js';
import * as softphone from './softphone.js';

const $ = (selector) => document.querySelector(selector);

async function boot() {
  listen($('#sign-in'), 'submit', FORMS, byForm);
  for (const root of [$('#company-picker'), $('#status-bar'), $('#notice'), $('#invitations')]) {
    listen(root, 'click', ACTIONS, byAction);
  }
  listen($('#status-bar'), 'change', PICKED, byField);
  subscribe(screens);
  subscribe(startWhenPicked);
  const session = await api('GET', '/api/v1/session');
  update((s) => { s.session = session; });
}

// Which screen shows: sign-in, the company picker, or the app.
function screens(s) {
  const { session } = s;
  if (!session) return;
  $('#sign-in').hidden = session.authenticated;
  $('#sign-in-error').textContent = s.signInError;
  $('#company-picker').hidden = !session.authenticated || Boolean(session.company);
  $('#app').hidden = !session.company;
  render($('#company-list'), session.companies.map((company) => html`
    <li><button class="primary" data-action="pick-company" data-id="${company.id}">${company.name}</button> <small>${company.role}</small></li>`));
  render($('#picker-invitations'), invitations(session));
}

// Companies that invited this account: it joins one only when its owner says yes here.
function invitations(session) {
  if (!session.invitations?.length) return '';
  return html`
    <ul class="plain invitation-list" aria-label="Invitations">
      ${session.invitations.map((invitation) => html`
        <li>${invitation.company_name} invited you to join as ${invitation.role === 'admin' ? 'an' : 'a'} ${invitation.role}.
          <button class="primary" data-action="accept-invitation" data-id="${invitation.id}">Join ${invitation.company_name}</button>
          <button data-action="decline-invitation" data-id="${invitation.id}">Decline</button></li>`)}
    </ul>`;
}

async function answerInvitation(id, accept) {
  const session = accept ? await api('POST', `/api/v1/session/invitations/${id}/accept`)
    : (await api('DELETE', `/api/v1/session/invitations/${id}`), await api('GET', '/api/v1/session'));
  update((s) => { s.session = session; }); // a company joined is in the switcher, or the app starts in it
}

// The app starts once a company is picked (at sign-in, or joined), once a page.
function startWhenPicked(s) {
  if (s.session?.company && s.startedAt === null) startApp().catch((failure) => say(refusal(failure)));
}

async function startApp() {
  update((s) => { s.startedAt = Date.now(); });
  inbox.mount($('#inbox'));
  panel.mount($('#panel'));
  contact.mount($('#contact'));
  classification.mount($('#classification'));
  subscribe(statusBar);
  alerts.watch();
  events.start();
  if (state.session.agent_id !== null) softphone.start();
  alerts.checkMicrophone();
  const [numbers, tags] = await Promise.all([api('GET', '/api/v1/tracking-numbers'), api('GET', '/api/v1/tags')]);
  update((s) => { s.trackingNumbers = numbers; s.tags = tags; });
}

function statusBar(s) {
  render($('#status-bar'), html`
    ${companyChoice(s)}
    <span class="softphone softphone-${s.softphone.status}" role="status" title="${s.softphone.error}">
      Softphone: ${{ off: 'off', connecting: 'connecting…', registered: 'ready', unregistered: 'not registered',
        failed: 'not available' }[s.softphone.status]}</span>
    <span class="connection connection-${s.connection}">${s.connection === 'live' ? 'Live' : 'Reconnecting…'}</span>
    ${s.me ? html`<button class="link" data-action="open-profile">Profile</button>` : ''}
    ${s.session.company.role !== 'agent' ? html`<a class="link" href="/admin">Admin console</a>` : ''}
    <button class="link" data-action="sign-out">Sign out</button>`);
  render($('#microphone-warning'), s.microphone === 'denied' || s.microphone === 'missing' ? html`
    <strong>${s.microphone === 'missing' ? 'No microphone found.' : 'Microphone access is blocked.'}</strong>
    Callers will not hear you. ${s.microphone === 'denied' ? html`To turn it back on, click the icon at the left of the
    address bar (a lock or a camera), set Microphone to Allow, then sign out and sign in again.` : 'Connect a headset and sign in again.'}` : '');
  $('#microphone-warning').hidden = !(s.microphone === 'denied' || s.microphone === 'missing');
  render($('#notice'), s.notice ? html`${s.notice.text} <button class="link" data-action="dismiss-notice" aria-label="Dismiss">${icon('close')}</button>` : '');
  $('#notice').hidden = !s.notice;
  render($('#invitations'), invitations(s.session));
  $('#invitations').hidden = !s.session.invitations?.length;
}

// A user of several companies switches here, as the spec has it ("choose the correct company from the dropdown
// menu"); not during a call, which belongs to the company it came to.
function companyChoice(s) {
  const { company, companies } = s.session;
  if (companies.length < 2) return html`<span class="company">${company.name}</span>`;
  const onCall = [...s.calls.values()].some((call) => call.state !== 'ringing')
    || [...s.interactions.values()].some((i) => i.kind === 'call' && i.status === 'active' && i.agent?.id === s.me?.id);
  return html`
    <span class="company">
      <label class="sr-only" for="company-choice">Company</label>
      <select id="company-choice" data-focus="company-choice" ${onCall ? html`disabled title="Finish the call to switch company"` : ''}>
        ${companies.map((c) => html`<option value="${c.id}" ${c.id === company.id ? 'selected' : ''}>${c.name}</option>`)}
      </select>
    </span>`;
}

// Everything on screen is the company's (inbox, colleagues, queues, numbers, tags, leads, the event stream, the
// softphone's account): the page starts again for the new one, as at sign-out, so nothing of the other stays.
async function switchCompany(select) {
  try {
    await api('PUT', '/api/v1/session/company', { company_id: Number(select.value) });
  } catch (failure) {
    select.value = String(state.session.company.id); // the choice shown goes back: nothing was redrawn
    throw failure;
  }
  softphone.stop();
  events.stop();
  location.reload();
}

async function signIn(form) {
  update((s) => { s.signInError = ''; });
  alerts.askForNotifications(); // a click is the moment browsers allow asking
  try {
    const session = await api('POST', '/api/v1/session', { email: form.email.value, password: form.password.value });
    form.password.value = '';
    update((s) => { s.session = session; });
  } catch (failure) {
    update((s) => { s.signInError = failure.message; });
  }
}

async function signOut() {
  softphone.stop();
  events.stop();
  await api('DELETE', '/api/v1/session').catch(() => {});
  location.reload(); // a clean page: nothing of the last agent's data stays in memory
}

async function pickCompany(id) {
  const session = await api('PUT', '/api/v1/session/company', { company_id: id });
  update((s) => { s.session = session; });
}

// The buttons of the status bar, the notice, the invitations and the company picker, by data-action.
const ACTIONS = {
  'sign-out': signOut,
  'open-profile': () => update((s) => { s.view = 'profile'; s.profileSaved = false; }),
  'dismiss-notice': () => update((s) => { s.notice = null; }),
  'accept-invitation': ({ id }) => answerInvitation(Number(id), true),
  'decline-invitation': ({ id }) => answerInvitation(Number(id), false),
  'pick-company': ({ id }) => pickCompany(Number(id)),
};

const FORMS = {
  'sign-in-form': signIn,
};

const PICKED = {
  'company-choice': switchCompany,
};

// Closing the tab unregisters the softphone, so the queue stops offering calls to a browser that is gone.
window.addEventListener('pagehide', () => softphone.stop());
// Leaving the page (reload, close) cuts the softphone's call: the browser asks first. If the agent goes on, the lead
// waits on hold and the reloaded app takes the call up again (softphone.stop, dialplan lc-agent-left).
window.addEventListener('beforeunload', (event) => {
  if ([...state.calls.values()].some((call) => call.state !== 'ringing')) {
    event.preventDefault();
    event.returnValue = '';
  }
});

boot();
