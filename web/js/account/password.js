// (Not the agent app: a page of its own, outside web/js/store.js's rules, as the admin console is.)
// The one-time password link's page (/password#<token>): an invitee chooses their password (or, with an account
// already, is told to sign in to accept), a user an admin sent a reset link sets a new one; then they are signed in
// and sent to the app. Without a token: Forgot password, which emails a link when the server sends email.
// The token is read from the fragment, which never reaches a server, and removed from the address bar at once.

import { api, refusal } from '../api.js';
import { html, render } from '../html.js';
import { QUIET, update } from '../store.js';

const root = document.querySelector('#password');
const token = location.hash.slice(1);
if (token) history.replaceState(null, '', location.pathname); // out of the history and the address bar
// A link pasted into this tab changes only the fragment: read it as a new page.
window.addEventListener('hashchange', () => location.reload());

async function boot() {
  const session = await api('GET', '/api/v1/session');
  update((s) => { s.session = session; }, QUIET); // api.js sends its CSRF token
  if (!token) return forgot();
  let link;
  try {
    link = await api('POST', '/api/v1/password/link', { token });
  } catch (failure) {
    return show(html`<h1>This link does not work</h1><p>${refusal(failure)}</p>
      <p><a href="/password">Forgot your password?</a> &middot; <a href="/">Sign in</a></p>`);
  }
  if (!link.sets_password) {
    return show(html`<h1>Join ${link.company_name}</h1>
      <p>${link.email} has a Lead Center account already. Sign in with its password: the invitation to
      ${link.company_name} is waiting for you there.</p><p><a class="button primary" href="/">Sign in</a></p>`);
  }
  const joining = link.purpose === 'invite';
  show(html`
    <h1>${joining ? `Join ${link.company_name}` : 'Set a new password'}</h1>
    <p>${joining ? `Welcome, ${link.name}. Choose the password you will sign in with.`
      : `Choose a new password for ${link.email}. You will be signed out everywhere else.`}</p>
    <form id="password-form">
      <input type="email" name="email" autocomplete="username" value="${link.email}" hidden>
      <label>New password <input name="password" type="password" autocomplete="new-password" minlength="8" required autofocus></label>
      <small class="field-error" data-for="password"></small>
      <label>The same again <input name="again" type="password" autocomplete="new-password" minlength="8" required></label>
      <button class="primary" type="submit">${joining ? 'Join and sign in' : 'Set the password and sign in'}</button>
      <p role="alert"></p>
    </form>`);
  root.querySelector('#password-form').addEventListener('submit', (event) => choose(event, link));
}

async function choose(event, link) {
  event.preventDefault();
  const form = event.target;
  const alert = form.querySelector('[role=alert]');
  const slot = form.querySelector('[data-for=password]');
  alert.textContent = '';
  slot.textContent = '';
  if (form.password.value !== form.again.value) {
    slot.textContent = 'the two passwords differ';
    return;
  }
  form.querySelector('button').disabled = true;
  try {
    await api('PUT', '/api/v1/password', { token, password: form.password.value });
    const session = await api('POST', '/api/v1/session', { email: link.email, password: form.password.value });
    const role = session.company?.role;
    location.replace(role === 'admin' || role === 'supervisor' ? '/admin' : '/');
  } catch (failure) {
    if (failure.fields?.password) slot.textContent = failure.fields.password;
    else alert.textContent = refusal(failure);
    form.querySelector('button').disabled = false;
  }
}

function forgot() {
  show(html`
    <h1>Forgot your password?</h1>
    <p>Type your email: if it has an account, a link to set a new password is on its way.</p>
    <form id="forgot-form">
      <label>Email <input name="email" type="email" autocomplete="username" required autofocus></label>
      <button class="primary" type="submit">Send me a link</button>
      <p role="alert"></p>
    </form>
    <p><a href="/">Back to sign in</a></p>`);
  root.querySelector('#forgot-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const answer = await api('POST', '/api/v1/password/forgot', { email: form.email.value });
      show(answer.email_on ? html`<h1>Check your email</h1>
        <p>If ${form.email.value} has an account, an email with a link is on its way. The link works once, for an hour.</p>
        <p><a href="/">Back to sign in</a></p>`
        : html`<h1>Ask your admin</h1><p>This server sends no email. An admin of your company can give you a link to
        set a new password (People, Reset password).</p><p><a href="/">Back to sign in</a></p>`);
    } catch (failure) {
      form.querySelector('[role=alert]').textContent = refusal(failure);
    }
  });
}

function show(content) {
  render(root, content);
}

boot().catch((failure) => show(html`<p class="error">${refusal(failure)}</p>`));
