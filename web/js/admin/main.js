// The admin console: sign in (or use the agent app's session), then a left navigation of pages (pages.js) and the
// page the hash names: #/teams, #/teams/3 -> the page 'teams' shown with path ['3']. Each page is a module exporting
// `page = { id, title, icon, role, show(root, ctx, path) }`; show may return a cleanup, run when the page is left.
// The console is a client of the REST API like any other: nothing here decides what a user may do, the server does
// (a supervisor's controls are disabled for clarity only).

import { api, refusal } from '../api.js';
import { html, icon, render } from '../html.js';
import { QUIET, update } from '../store.js';
import { PAGES } from './pages.js';

const $ = (selector) => document.querySelector(selector);
const RANK = { agent: 1, supervisor: 2, admin: 3 };
const RETRY_MS = [500, 1000, 2000, 5000];
const TOAST_MS = 4000;

let session = null;
let leave = null; // the shown page's cleanup
const handlers = new Map(); // event name -> the pages' functions
let stream = { socket: null, checkpoint: null, retries: 0 };
let toastTimer = null;

async function boot() {
  $('#sign-in-form').addEventListener('submit', signIn);
  $('#company-list').addEventListener('click', pickCompany);
  $('#admin-bar').addEventListener('click', (event) => {
    if (event.target.closest('[data-action="sign-out"]')) signOut();
  });
  window.addEventListener('hashchange', showPage);
  useSession(await api('GET', '/api/v1/session'));
}

function useSession(next) {
  session = next;
  update((s) => { s.session = next; }, QUIET); // api.js sends its CSRF token
  $('#sign-in').hidden = next.authenticated;
  $('#company-picker').hidden = !next.authenticated || Boolean(next.company);
  render($('#company-list'), next.companies.map((company) => html`
    <li><button class="primary" data-id="${company.id}">${company.name}</button> <small>${company.role}</small></li>`));
  if (!next.company) return;
  if (RANK[next.company.role] < RANK.supervisor) {
    location.replace('/'); // an agent's place is the agent app
    return;
  }
  $('#console').hidden = false;
  render($('#admin-bar'), html`
    <span class="console-name">${next.company.name} <small>admin console</small></span>
    <a class="link" href="/">Agent app</a>
    <span>${next.user.name} <small>(${next.company.role})</small></span>
    <button class="link" data-action="sign-out">Sign out</button>`);
  connect();
  showPage();
}

// The user may see a page: a role of the company at least the page's ('owner': the installation's owner).
function allowed(page) {
  if (page.role === 'owner') return Boolean(session.user?.owner);
  return RANK[session.company.role] >= RANK[page.role || 'supervisor'];
}

function showPage() {
  if (!session?.company) return;
  const visible = PAGES.filter(allowed);
  const [id, ...path] = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const page = visible.find((p) => p.id === id);
  if (!page) {
    if (visible.length) location.replace(`#/${visible[0].id}`);
    return;
  }
  render($('#admin-nav'), html`<ul>${visible.map((p) => html`
    <li><a href="#/${p.id}" ${p === page ? html`aria-current="page"` : ''}>${icon(p.icon)} ${p.title}</a></li>`)}</ul>`);
  if (leave) leave();
  leave = null;
  // A fresh element for each page shown: the listeners a page put on its root, and whatever it renders once its
  // requests come back after it was left, stay with the old one, out of the document.
  const left = $('#admin-page');
  const root = left.cloneNode(false);
  left.replaceWith(root);
  document.title = `${page.title} - Lead Center admin`;
  Promise.resolve(page.show(root, context(root), path))
    .then((cleanup) => { leave = typeof cleanup === 'function' ? cleanup : null; })
    .catch((failure) => toast(refusal(failure)));
}

function context(root) {
  const role = session.company.role;
  return {
    session,
    role,
    canEdit: (needed = 'admin') => RANK[role] >= RANK[needed],
    // Only from the page still shown: a save answered after the user went to another page leaves them there.
    go: (hash) => { if (root.isConnected) location.hash = hash.startsWith('#') ? hash : `#${hash}`; },
    onEvent,
    toast,
  };
}

// The event stream (/api/v1/events), one socket for the console: pages subscribe by event name and get its data.
function onEvent(name, fn) {
  if (!handlers.has(name)) handlers.set(name, new Set());
  handlers.get(name).add(fn);
  return () => handlers.get(name)?.delete(fn);
}

function dispatch(name, data) {
  for (const fn of handlers.get(name) || []) {
    try { fn(data); } catch (error) { console.error(error); }
  }
}

function connect() {
  if (stream.socket) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const { checkpoint } = stream;
  const query = checkpoint ? `?since=${checkpoint.seq}&stream=${encodeURIComponent(checkpoint.stream)}` : '';
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events${query}`);
  stream.socket = ws;
  ws.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.event === 'stream.hello' || frame.event === 'stream.reset') {
      stream.checkpoint = { stream: frame.data.stream, seq: frame.data.seq };
      stream.retries = 0;
      // Events were lost (the controller restarted, or this tab was away too long): a live page loads again.
      if (frame.event === 'stream.reset') dispatch(frame.event, frame.data);
      return;
    }
    if (stream.checkpoint) stream.checkpoint.seq = frame.seq;
    dispatch(frame.event, frame.data);
  };
  ws.onclose = (closed) => {
    if (stream.socket !== ws) return;
    stream.socket = null;
    if (closed.code === 4401) return; // signed out
    const wait = RETRY_MS[Math.min(stream.retries, RETRY_MS.length - 1)];
    stream.retries += 1;
    setTimeout(connect, wait);
  };
}

function toast(text) {
  const element = $('#toast');
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, TOAST_MS);
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const alert = form.querySelector('[role=alert]');
  alert.textContent = '';
  try {
    const next = await api('POST', '/api/v1/session', { email: form.email.value, password: form.password.value });
    form.password.value = '';
    useSession(next);
  } catch (failure) {
    alert.textContent = refusal(failure);
  }
}

async function pickCompany(event) {
  const button = event.target.closest('button[data-id]');
  if (!button) return;
  try {
    useSession(await api('PUT', '/api/v1/session/company', { company_id: Number(button.dataset.id) }));
  } catch (failure) {
    toast(refusal(failure));
  }
}

async function signOut() {
  const { socket } = stream;
  stream = { socket: null, checkpoint: null, retries: 0 };
  if (socket) socket.close(1000);
  await api('DELETE', '/api/v1/session').catch(() => {});
  location.reload();
}

boot();
