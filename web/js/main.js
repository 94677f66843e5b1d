// The agent app: sign in (and pick a company), then the four areas over one store fed by the event stream.

import { api, refusal, setCsrfToken } from './api.js';
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
let mounted = false;

async function boot() {
  const session = await api('GET', '/api/v1/session');
  setCsrfToken(session.csrf_token);
  show(session);
}

function show(session) {
  update((s) => { s.session = session; });
  $('#sign-in').hidden = session.authenticated;
  $('#company-picker').hidden = !session.authenticated || Boolean(session.company);
  $('#app').hidden = !session.company;
  if (session.authenticated && !session.company) pickCompany(session);
  if (session.company) startApp();
}

function pickCompany(session) {
  render($('#company-list'), session.companies.map((company) => html`
    <li><button class="primary" data-company="${company.id}">${company.name}</button> <small>${company.role}</small></li>`));
  render($('#picker-invitations'), invitations(session));
}

// Companies that invited this account: it joins one only when its owner says yes here.
function invitations(session) {
  if (!session.invitations?.length) return '';
  return html`
    <ul class="plain invitation-list" aria-label="Invitations">
      ${session.invitations.map((invitation) => html`
        <li>${invitation.company_name} invited you to join as ${invitation.role === 'admin' ? 'an' : 'a'} ${invitation.role}.
          <button class="primary" data-accept-invitation="${invitation.id}">Join ${invitation.company_name}</button>
          <button data-decline-invitation="${invitation.id}">Decline</button></li>`)}
    </ul>`;
}

async function answerInvitation(id, accept) {
  try {
    const session = accept ? await api('POST', `/api/v1/session/invitations/${id}/accept`)
      : (await api('DELETE', `/api/v1/session/invitations/${id}`), await api('GET', '/api/v1/session'));
    if (state.session.company && session.company) {
      update((s) => { s.session = session; }); // the new company is in the switcher
    } else {
      show(session);
    }
  } catch (failure) {
    say(refusal(failure));
  }
}

async function startApp() {
  if (!mounted) {
    mounted = true;
    inbox.mount($('#inbox'));
    panel.mount($('#panel'));
    contact.mount($('#contact'));
    classification.mount($('#classification'));
    subscribe(statusBar);
    alerts.watchRinging();
    alerts.watchTexts();
  }
  events.start();
  if (state.session.agent_id !== null) softphone.start($('#remote-audio'));
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
    ${s.me ? html`<button class="link" id="open-profile">Profile</button>` : ''}
    <button class="link" id="sign-out">Sign out</button>`);
  render($('#microphone-warning'), s.microphone === 'denied' || s.microphone === 'missing' ? html`
    <strong>${s.microphone === 'missing' ? 'No microphone found.' : 'Microphone access is blocked.'}</strong>
    Callers will not hear you. ${s.microphone === 'denied' ? html`To turn it back on, click the icon at the left of the
    address bar (a lock or a camera), set Microphone to Allow, then sign out and sign in again.` : 'Connect a headset and sign in again.'}` : '');
  $('#microphone-warning').hidden = !(s.microphone === 'denied' || s.microphone === 'missing');
  render($('#notice'), s.notice ? html`${s.notice} <button class="link" id="dismiss-notice" aria-label="Dismiss">${icon('close')}</button>` : '');
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
    select.value = String(state.session.company.id);
    say(refusal(failure));
    return;
  }
  softphone.stop();
  events.stop();
  location.reload();
}

async function signIn(form) {
  const error = $('#sign-in-error');
  error.textContent = '';
  alerts.askForNotifications(); // a click is the moment browsers allow asking
  try {
    const session = await api('POST', '/api/v1/session', { email: form.email.value, password: form.password.value });
    setCsrfToken(session.csrf_token);
    form.password.value = '';
    show(session);
  } catch (failure) {
    error.textContent = failure.message;
  }
}

async function signOut() {
  softphone.stop();
  events.stop();
  await api('DELETE', '/api/v1/session').catch(() => {});
  location.reload(); // a clean page: nothing of the last agent's data stays in memory
}

document.addEventListener('submit', (event) => {
  if (event.target.id === 'sign-in-form') {
    event.preventDefault();
    signIn(event.target);
  }
});
document.addEventListener('change', (event) => {
  if (event.target.id === 'company-choice') switchCompany(event.target);
});
document.addEventListener('click', async (event) => {
  if (event.target.id === 'sign-out') signOut();
  if (event.target.id === 'open-profile') update((s) => { s.view = 'profile'; s.profileSaved = false; });
  if (event.target.closest('#dismiss-notice')) update((s) => { s.notice = ''; });
  const invitation = event.target.closest('[data-accept-invitation], [data-decline-invitation]');
  if (invitation) {
    const { acceptInvitation, declineInvitation } = invitation.dataset;
    answerInvitation(Number(acceptInvitation || declineInvitation), Boolean(acceptInvitation));
  }
  const company = event.target.closest('[data-company]');
  if (company) {
    const session = await api('PUT', '/api/v1/session/company', { company_id: Number(company.dataset.company) });
    show(session);
  }
});
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
