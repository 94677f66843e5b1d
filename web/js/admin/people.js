// People: the company's users (role, active, agent profile), invitations (a one-time link to set a password: emailed
// to the invitee, or shown once here for the admin to hand over), password resets, and an agent's devices: the desk
// phone's SIP account shown once when it is made or renewed, and the device the queue rings.

import { api } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm } from './forms.js';

const ROLES = ['agent', 'supervisor', 'admin'];
const DEVICES = { webrtc: 'Browser softphone', desk: 'Desk phone' };

export const page = {
  id: 'people',
  title: 'People',
  icon: 'people',
  role: 'supervisor',
  async show(root, ctx, path) {
    const view = { users: [], invitations: [], agent: null, handover: null, sip: null };
    const userId = path[0] ? Number(path[0]) : null;
    const me = ctx.session.user.id;

    async function load() {
      const [users, invitations] = await Promise.all([api('GET', '/api/v1/users'), api('GET', '/api/v1/invitations')]);
      Object.assign(view, { users, invitations });
      const user = users.find((u) => u.id === userId);
      view.agent = user?.agent_id ? await api('GET', `/api/v1/agents/${user.agent_id}`) : null;
      draw();
    }

    function draw() {
      render(root.querySelector('#people-users'), usersTable(view, ctx, me));
      render(root.querySelector('#people-invitations'), invitationsTable(view, ctx));
      render(root.querySelector('#people-handover'), handover(view.handover));
      const user = view.users.find((u) => u.id === userId);
      render(root.querySelector('#people-detail'), user ? detail(user, view, ctx) : '');
      readOnly(root, ctx);
    }

    root.innerHTML = html`
      <h1>People</h1>
      <section id="people-detail"></section>
      ${ctx.canEdit() ? html`
      <section class="panel-box" aria-labelledby="invite-heading">
        <h2 id="invite-heading">Invite someone</h2>
        <form id="invite-form">
          <div class="form-row">
            <label>Email <input name="email" type="email" required autocomplete="off"></label>
            <label>Name <input name="name" required autocomplete="off"></label>
            <label>Role <select name="role">${ROLES.map((r) => html`<option value="${r}">${label(r)}</option>`)}</select></label>
          </div>
          <label><input type="checkbox" name="is_agent" checked> Takes calls and chats (an agent)</label>
          <fieldset class="form-row agent-devices">
            <legend>Devices</legend>
            ${Object.entries(DEVICES).map(([device, name]) => html`
              <label><input type="checkbox" name="agent.devices" value="${device}" ${device === 'webrtc' ? 'checked' : ''}> ${name}</label>`)}
            <label>The queue rings <select name="agent.ring_device">${Object.entries(DEVICES).map(([device, name]) => html`
              <option value="${device}">${name}</option>`)}</select></label>
          </fieldset>
          <small class="field-error" data-for="agent"></small>
          <div class="actions"><button type="submit" class="primary">Invite</button></div>
          <p role="alert"></p>
        </form>
        <div id="people-handover"></div>
      </section>` : html`<div id="people-handover" hidden></div>`}
      <section class="panel-box"><h2>Users</h2><div id="people-users"></div></section>
      <section class="panel-box"><h2>Invitations</h2><div id="people-invitations"></div></section>`.toString();

    const actions = {
      async role(element) {
        await change(element.dataset.id, { role: element.value }, `Role changed to ${element.value}`);
      },
      deactivate: ({ dataset }) => change(dataset.id, { active: false }, 'Deactivated: signed out everywhere'),
      reactivate: ({ dataset }) => change(dataset.id, { active: true }, 'Reactivated'),
      async reset({ dataset }) {
        const answer = await api('POST', `/api/v1/users/${dataset.id}/password-link`);
        const user = view.users.find((u) => u.id === Number(dataset.id));
        view.handover = answer.emailed ? null : { who: user.name, link: answer.link, what: 'set a new password' };
        ctx.toast(answer.emailed ? `A link to set a new password was emailed to ${user.email}` : 'Hand the link over');
        draw();
      },
      async remove({ dataset }) {
        const user = view.users.find((u) => u.id === Number(dataset.id));
        if (!window.confirm(`Remove ${user.name} from ${ctx.session.company.name}?`)) return;
        await api('DELETE', `/api/v1/users/${dataset.id}`);
        ctx.toast(`${user.name} removed`);
        if (userId === user.id) ctx.go('#/people');
        await load();
      },
      async revoke({ dataset }) {
        await api('DELETE', `/api/v1/invitations/${dataset.id}`);
        ctx.toast('Invitation revoked');
        await load();
      },
      async renew({ dataset }) {
        view.sip = await api('PUT', `/api/v1/agents/${view.agent.id}/devices/${dataset.device}`);
        await load();
      },
      async 'remove-device'({ dataset }) {
        await api('DELETE', `/api/v1/agents/${view.agent.id}/devices/${dataset.device}`);
        view.sip = null;
        await load();
      },
      async ring(element) {
        view.agent = await api('PATCH', `/api/v1/agents/${view.agent.id}`, { ring_device: element.value });
        ctx.toast(`The queue rings the ${DEVICES[element.value].toLowerCase()}`);
        draw();
      },
      async 'make-agent'({ dataset }) {
        await api('POST', `/api/v1/users/${dataset.id}/agent`, { devices: ['webrtc'], ring_device: 'webrtc' });
        ctx.toast('An agent now: add a desk phone below if they have one');
        await load();
      },
      'hide-secret': () => { view.sip = null; view.handover = null; draw(); },
      copy: ({ dataset }) => navigator.clipboard?.writeText(dataset.text).then(() => ctx.toast('Copied')),
    };

    async function change(id, body, said) {
      await api('PATCH', `/api/v1/users/${id}`, body);
      ctx.toast(said);
      await load();
    }

    async function run(name, element) {
      try {
        await actions[name](element);
      } catch (failure) {
        ctx.toast(failure.message);
        await load();
      }
    }

    root.addEventListener('click', (event) => {
      const element = event.target.closest('button[data-action]');
      if (element && Object.hasOwn(actions, element.dataset.action)) run(element.dataset.action, element);
    });
    root.addEventListener('change', (event) => {
      const element = event.target.closest('select[data-action]');
      if (element && Object.hasOwn(actions, element.dataset.action)) run(element.dataset.action, element);
    });
    const form = root.querySelector('#invite-form');
    form?.addEventListener('change', (event) => {
      if (event.target.name === 'is_agent') form.querySelector('.agent-devices').disabled = !event.target.checked;
    });
    form?.addEventListener('submit', async (event) => {
      event.preventDefault();
      const invited = await saveForm(form, ({ is_agent: agent, ...values }) => api('POST', '/api/v1/users', {
        ...values, agent: agent ? values.agent : undefined,
      }));
      if (!invited) return;
      view.handover = invited.link ? { who: form.name.value, link: invited.link, what: `join ${ctx.session.company.name}` } : null;
      ctx.toast(invited.emailed ? `Invitation emailed to ${invited.email}` : `${invited.email} is invited: hand them the link`);
      form.reset();
      await load();
    });

    const stop = ['user.created', 'user.updated', 'user.deleted', 'invitation.created', 'invitation.deleted']
      .map((name) => ctx.onEvent(name, () => load().catch(() => {})));
    await load();
    return () => stop.forEach((unsubscribe) => unsubscribe());
  },
};

function usersTable(view, ctx, me) {
  return html`
    <table class="rows people-rows">
      <thead><tr><th>Name</th><th>Role</th><th>Agent</th><th>Status</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${view.users.map((user) => html`
        <tr data-key="${user.id}" class="${user.active ? '' : 'inactive'}">
          <td><a href="#/people/${user.id}">${user.name}</a><br><small>${user.email}</small></td>
          <td>${ctx.canEdit() && user.id !== me ? html`
            <label class="sr-only" for="role-${user.id}">Role of ${user.name}</label>
            <select id="role-${user.id}" data-action="role" data-id="${user.id}" data-edit>
              ${ROLES.map((r) => html`<option value="${r}" ${r === user.role ? 'selected' : ''}>${label(r)}</option>`)}
            </select>` : label(user.role)}</td>
          <td>${user.agent_id ? html`<a href="#/people/${user.id}">Devices</a>` : html`<small>no</small>`}</td>
          <td>${user.active ? html`<span class="badge">Active</span>` : html`<span class="badge off">Deactivated</span>`}</td>
          <td class="row-actions">${user.id === me ? html`<small>you</small>` : html`
            ${user.active ? html`<button data-action="deactivate" data-id="${user.id}" data-edit>Deactivate</button>`
              : html`<button data-action="reactivate" data-id="${user.id}" data-edit>Reactivate</button>`}
            <button data-action="reset" data-id="${user.id}" data-edit>Reset password</button>
            <button class="danger" data-action="remove" data-id="${user.id}" data-edit>Remove</button>`}</td>
        </tr>`)}</tbody>
    </table>`;
}

function invitationsTable(view, ctx) {
  if (!view.invitations.length) return html`<p class="empty">Nobody has an unanswered invitation.</p>`;
  return html`
    <table class="rows">
      <thead><tr><th>Email</th><th>Role</th><th>Invited</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${view.invitations.map((invitation) => html`
        <tr data-key="${invitation.id}">
          <td>${invitation.email}</td><td>${label(invitation.role)}${invitation.agent && invitation.role !== 'agent' ? ', takes calls' : ''}</td>
          <td>${new Date(invitation.created_at).toLocaleString()}</td>
          <td>${ctx.canEdit() ? html`<button data-action="revoke" data-id="${invitation.id}" data-edit>Revoke</button>` : ''}</td>
        </tr>`)}</tbody>
    </table>`;
}

// The link for the admin to hand over (email is off): shown once, never again.
function handover(given) {
  if (!given) return '';
  return html`
    <div class="secret-once" role="status">
      <p><strong>Give this link to ${given.who}</strong> to ${given.what}. It works once; this is the only time it is shown.</p>
      <p><code id="handover-link">${given.link}</code></p>
      <div class="actions"><button data-action="copy" data-text="${given.link}">Copy</button>
        <button data-action="hide-secret">Done</button></div>
    </div>`;
}

function detail(user, view, ctx) {
  const agent = view.agent;
  return html`
    <section class="panel-box" aria-labelledby="detail-heading">
      <h2 id="detail-heading">${user.name}</h2>
      <p>${user.email} &middot; ${label(user.role)} &middot; ${user.active ? 'active' : 'deactivated'}</p>
      ${agent ? html`
        <h3>Devices</h3>
        <table class="rows devices">
          <tbody>${Object.entries(DEVICES).map(([device, name]) => html`
            <tr data-key="${device}"><td>${name}</td>
              <td>${agent.devices.includes(device) ? html`<span class="badge">has a SIP account</span>` : html`<small>none</small>`}</td>
              <td class="row-actions">${ctx.canEdit() ? html`
                <button data-action="renew" data-device="${device}" data-edit>${agent.devices.includes(device) ? 'New SIP password' : `Add a ${name.toLowerCase()}`}</button>
                ${agent.devices.includes(device) && agent.ring_device !== device ? html`
                  <button data-action="remove-device" data-device="${device}" data-edit>Remove</button>` : ''}` : ''}</td>
            </tr>`)}</tbody>
        </table>
        <label>The queue rings
          <select data-action="ring" data-edit ${ctx.canEdit() ? '' : 'disabled'}>${agent.devices.map((device) => html`
            <option value="${device}" ${device === agent.ring_device ? 'selected' : ''}>${DEVICES[device]}</option>`)}</select></label>
        ${sipAccount(view.sip)}` : html`<p class="hint">Not an agent: takes no calls or chats.</p>
        ${ctx.canEdit() ? html`<button data-action="make-agent" data-id="${user.id}" data-edit>Make an agent (browser softphone)</button>` : ''}`}
      <p><a href="#/people">All people</a></p>
    </section>`;
}

// A device's SIP account, right after it was made or renewed: the one time its password is shown.
function sipAccount(sip) {
  if (!sip) return '';
  const [account] = sip.accounts;
  return html`
    <div class="secret-once" role="status">
      <p><strong>Set up the ${DEVICES[account.device].toLowerCase()} with this account.</strong> The password is shown
      only now; the old one no longer registers.</p>
      <dl class="sip-account">
        <dt>Registrar</dt><dd><code>${sip.registrar_host}:${sip.registrar_port}</code></dd>
        <dt>Username</dt><dd><code>${account.username}</code></dd>
        <dt>Password</dt><dd><code>${account.password}</code></dd>
      </dl>
      <div class="actions"><button data-action="hide-secret">Done</button></div>
    </div>`;
}

function label(name) {
  return name[0].toUpperCase() + name.slice(1);
}
