// Trunks: the carriers calls arrive from and go out through. A trunk is recognised by its address, or also registers
// to the carrier with a username and password; its transport and codecs; its live state (registered, reachable,
// failing) as Asterisk reports it, followed with trunk.state_changed. #/trunks/new adds one, #/trunks/3 edits it.

import { api } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm } from './forms.js';

const CODECS = { ulaw: 'G.711 u-law', alaw: 'G.711 A-law', g722: 'G.722 (wideband)', gsm: 'GSM', opus: 'Opus' };
const STATES = {
  registered: ['Registered', 'on'],
  reachable: ['Reachable', 'on'],
  failing: ['Failing', 'off'],
  unknown: ['Not checked', ''],
};

export const page = {
  id: 'trunks',
  title: 'Trunks',
  icon: 'trunk',
  role: 'supervisor',
  async show(root, ctx, path) {
    const view = { trunks: [], states: new Map() };
    const editing = path[0] ?? null;

    async function load() {
      const [trunks, states] = await Promise.all([api('GET', '/api/v1/trunks'), api('GET', '/api/v1/trunks/states')]);
      view.trunks = trunks;
      view.states = new Map(states.map((s) => [s.trunk, s]));
      draw();
    }

    function draw() {
      const rows = root.querySelector('#trunk-rows');
      if (!rows) return; // the page was left meanwhile
      render(rows, view.trunks.length ? html`
        <table class="rows trunk-rows">
          <thead><tr><th>Name</th><th>Carrier</th><th>Sign-in</th><th>Codecs</th><th>State</th><th></th></tr></thead>
          <tbody>${view.trunks.map((t) => row(t, view.states.get(t.id), ctx))}</tbody>
        </table>` : html`<p class="empty">No trunk yet: add the carrier your numbers arrive on.</p>`);
      readOnly(root, ctx);
    }

    const trunk = editing && editing !== 'new' ? await api('GET', `/api/v1/trunks/${editing}`) : null;
    root.innerHTML = html`
      <h1>Trunks</h1>
      ${editing && ctx.canEdit() ? form(trunk) : ''}
      <section class="panel-box" aria-labelledby="trunks-heading">
        <h2 id="trunks-heading">Carriers</h2>
        <div id="trunk-rows"></div>
        ${ctx.canEdit() && !editing ? html`<p><a class="button primary" href="#/trunks/new">Add a trunk</a></p>` : ''}
      </section>`.toString();

    const trunkForm = root.querySelector('#trunk-form');
    trunkForm?.addEventListener('change', () => showAuth(trunkForm));
    if (trunkForm) showAuth(trunkForm);
    trunkForm?.addEventListener('submit', async (event) => {
      event.preventDefault();
      const saved = await saveForm(trunkForm, (values) => {
        const body = { ...values, codecs: values.codecs || [] };
        if (body.auth === 'ip') { delete body.username; delete body.password; }
        return trunk ? api('PATCH', `/api/v1/trunks/${trunk.id}`, body) : api('POST', '/api/v1/trunks', body);
      });
      if (!saved) return;
      ctx.toast(trunk ? `${saved.name} saved` : `${saved.name} added`);
      ctx.go('#/trunks');
    });
    // On the page's own element: the console's root outlives the page (a listener there would pile up per visit).
    root.querySelector('#trunk-rows').addEventListener('click', async (event) => {
      const button = event.target.closest('button[data-action="delete"]');
      if (!button) return;
      const doomed = view.trunks.find((t) => t.id === Number(button.dataset.id));
      if (!window.confirm(`Delete the trunk ${doomed.name}?`)) return;
      try {
        await api('DELETE', `/api/v1/trunks/${doomed.id}`);
        ctx.toast(`${doomed.name} deleted`);
      } catch (failure) {
        ctx.toast(failure.message);
      }
      await load();
    });

    const stops = [
      ctx.onEvent('trunk.state_changed', ({ trunk_state: state }) => {
        view.states.set(state.trunk, state);
        draw();
      }),
      ...['trunk.created', 'trunk.updated', 'trunk.deleted'].map((name) => ctx.onEvent(name, () => load())),
    ];
    await load();
    return () => stops.forEach((stop) => stop());
  },
};

function row(trunk, state, ctx) {
  const [word, tone] = STATES[state?.state || 'unknown'];
  const detail = state?.state === 'failing'
    ? (state.reachable === false ? 'the carrier does not answer' : `registration ${(state.registration || '').toLowerCase()}`)
    : state?.roundtrip_ms != null ? `${state.roundtrip_ms} ms` : '';
  return html`
    <tr data-key="${trunk.id}">
      <td><strong>${trunk.name}</strong></td>
      <td>${trunk.host}:${trunk.port} <small>${trunk.transport.toUpperCase()}</small></td>
      <td>${trunk.auth === 'register' ? html`Registers as <code>${trunk.username}</code>` : 'By address'}</td>
      <td>${trunk.codecs.map((c) => CODECS[c] || c).join(', ')}</td>
      <td><span class="badge trunk-state ${tone}" data-state="${state?.state || 'unknown'}">${word}</span>
        ${detail ? html`<small>${detail}</small>` : ''}</td>
      <td class="actions">${ctx.canEdit() ? html`<a href="#/trunks/${trunk.id}">Edit</a>
        <button type="button" data-action="delete" data-id="${trunk.id}" data-edit>Delete</button>` : ''}</td>
    </tr>`;
}

function form(trunk) {
  const t = trunk || { name: '', host: '', port: 5060, auth: 'ip', username: '', has_password: false,
    transport: 'udp', codecs: ['ulaw', 'alaw'], qualify_seconds: 60 };
  return html`
    <section class="panel-box" aria-labelledby="trunk-form-heading">
      <h2 id="trunk-form-heading">${trunk ? `Edit ${trunk.name}` : 'Add a trunk'}</h2>
      <form id="trunk-form">
        <div class="form-row">
          <label>Name <input name="name" value="${t.name}" required maxlength="100"></label>
          <label>Carrier's address <input name="host" value="${t.host}" required placeholder="203.0.113.5"
            title="The carrier's SIP signalling IP address"></label>
          <label>Port <input name="port" type="number" min="1" max="65535" value="${t.port}"></label>
          <label>Transport <select name="transport">${['udp', 'tcp'].map((p) => html`
            <option value="${p}" ${p === t.transport ? 'selected' : ''}>${p.toUpperCase()}</option>`)}</select></label>
        </div>
        <fieldset class="form-row">
          <legend>How the carrier knows us</legend>
          <label><input type="radio" name="auth" value="ip" ${t.auth === 'ip' ? 'checked' : ''}> By our address</label>
          <label><input type="radio" name="auth" value="register" ${t.auth === 'register' ? 'checked' : ''}>
            We register with a username and password</label>
        </fieldset>
        <div class="form-row trunk-account">
          <label>Username <input name="username" value="${t.username}" autocomplete="off"></label>
          <label>Password <input name="password" type="password" autocomplete="new-password"
            placeholder="${t.has_password ? 'Unchanged' : ''}"></label>
        </div>
        <fieldset class="form-row">
          <legend>Codecs offered</legend>
          ${Object.entries(CODECS).map(([codec, name]) => html`
            <label><input type="checkbox" name="codecs" value="${codec}" ${t.codecs.includes(codec) ? 'checked' : ''}> ${name}</label>`)}
        </fieldset>
        <small class="field-error" data-for="codecs"></small>
        <label>Check the carrier is there every (seconds, 0: never)
          <input name="qualify_seconds" type="number" min="0" max="3600" value="${t.qualify_seconds}"></label>
        <div class="actions"><button type="submit" class="primary">${trunk ? 'Save' : 'Add'}</button>
          <a href="#/trunks">Cancel</a></div>
        <p role="alert"></p>
      </form>
    </section>`;
}

// The account's fields only when the trunk registers (disabled controls are not sent).
function showAuth(form) {
  const registers = form.querySelector('input[name="auth"]:checked')?.value === 'register';
  const account = form.querySelector('.trunk-account');
  account.hidden = !registers;
  account.querySelectorAll('input').forEach((input) => { input.disabled = !registers; });
}
