// Company: its name, time zone, the region numbers are read in and the HELP reply; the company mailbox's greeting and
// the recording notice (recorded WAV files); the chat widget's snippet, allowed site origins and look; how visits are
// tracked; who may monitor calls and whether agents are told; API keys (the key shown once, when made). Each part saves on its own, with its field errors beside it.

import { api, refusal } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm } from './forms.js';

const MONITOR_ROLES = [
  ['supervisor', 'Supervisors and admins'], ['admin', 'Admins only'], ['none', 'Nobody'],
];

const PROMPTS = [
  { path: '/api/v1/company/voicemail-greeting', title: 'Company voicemail greeting',
    about: 'What callers hear before they leave a message in the company mailbox.' },
  { path: '/api/v1/company/recording-notice', title: 'Recording notice',
    about: '"This call may be recorded", played by the call flows that announce recording.' },
];

export const page = {
  id: 'company',
  title: 'Company',
  icon: 'company',
  role: 'supervisor',
  async show(root, ctx) {
    const [company, widget, visits, keys, prompts] = await Promise.all([
      api('GET', '/api/v1/company'), api('GET', '/api/v1/chat-widget'), api('GET', '/api/v1/visit-settings'),
      api('GET', '/api/v1/api-keys'), Promise.all(PROMPTS.map((p) => custom(p.path))),
    ]);
    const view = { keys, issued: null, prompts };
    root.innerHTML = html`
      <h1>Company</h1>
      <section class="panel-box" aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        <form id="company-form">
          <div class="form-row">
            <label>Name <input name="name" value="${company.name}" required></label>
            <label>Time zone <select name="time_zone">${zones(company.time_zone).map((zone) => html`
              <option value="${zone}" ${zone === company.time_zone ? 'selected' : ''}>${zone.replaceAll('_', ' ')}</option>`)}</select></label>
            <label>Country of local numbers <input name="default_region" value="${company.default_region}" maxlength="2"
              size="2" title="ISO country code, e.g. US: numbers typed without +country code are read as this country's"></label>
          </div>
          <label>Reply to a lead who texts HELP <textarea name="text_help_reply" rows="2" maxlength="320"
            placeholder="Empty: a reply naming the company and how to opt out">${company.text_help_reply}</textarea></label>
          <div class="actions"><button type="submit" class="primary">Save</button></div>
          <p role="alert"></p>
        </form>
      </section>
      <section class="panel-box" aria-labelledby="monitoring-heading">
        <h2 id="monitoring-heading">Listening to calls</h2>
        <p class="hint">From Team View, on their own softphone or desk phone: listen (nobody hears them), whisper (only
          the agent hears them) or barge in (the agent and the caller do). Every use is in the audit log.</p>
        <form id="monitoring-form">
          <label>Who may listen, whisper and barge <select name="monitor_roles">${MONITOR_ROLES.map(([value, name]) => html`
            <option value="${value}" ${value === company.monitor_roles ? 'selected' : ''}>${name}</option>`)}</select></label>
          <label><input type="checkbox" name="monitor_notice" ${company.monitor_notice ? 'checked' : ''}> Tell agents
            while one of their calls is listened to</label>
          <div class="actions"><button type="submit" class="primary">Save</button></div>
          <p role="alert"></p>
        </form>
      </section>
      <section class="panel-box" aria-labelledby="prompts-heading">
        <h2 id="prompts-heading">Greeting and recording notice</h2>
        <div id="company-prompts"></div>
      </section>
      <section class="panel-box" aria-labelledby="widget-heading">
        <h2 id="widget-heading">Chat widget</h2>
        <p>Paste this into every page of the site, before <code>&lt;/body&gt;</code>:</p>
        <p class="snippet"><code id="widget-snippet">${widget.snippet}</code>
          <button type="button" data-action="copy" data-text="${widget.snippet}">Copy</button></p>
        <form id="widget-form">
          <label><input type="checkbox" name="enabled" ${widget.enabled ? 'checked' : ''}> Chat is on</label>
          <label>Site origins allowed, one a line <textarea name="allowed_origins" rows="3"
            placeholder="https://www.example.com">${widget.allowed_origins.join('\n')}</textarea></label>
          <div class="form-row">
            <label>Greeting <input name="greeting" value="${widget.greeting}" maxlength="300"></label>
            <label>Colour <input name="color" type="color" value="${widget.color}"></label>
            <label>Position <select name="position">${['right', 'left'].map((p) => html`
              <option value="${p}" ${p === widget.position ? 'selected' : ''}>${p === 'right' ? 'Bottom right' : 'Bottom left'}</option>`)}</select></label>
          </div>
          <div class="actions"><button type="submit" class="primary">Save</button></div>
          <p role="alert"></p>
        </form>
      </section>
      <section class="panel-box" aria-labelledby="visits-heading">
        <h2 id="visits-heading">Website visits</h2>
        <form id="visits-form">
          <div class="form-row">
            <label>Number printed on the site <input name="site_number" value="${visits.site_number}" placeholder="Empty: swap nothing"></label>
            <label>Credit a lead to <select name="attribution">${[['first_touch', 'the first visit'], ['last_touch', 'the last visit']]
              .map(([value, name]) => html`<option value="${value}" ${value === visits.attribution ? 'selected' : ''}>${name}</option>`)}</select></label>
            <label>A visit ends after (minutes idle) <input name="session_minutes" type="number" min="1" max="1440" value="${visits.session_minutes}"></label>
            <label>Keep visits (days) <input name="retention_days" type="number" min="1" max="3650" value="${visits.retention_days}"></label>
          </div>
          <label><input type="checkbox" name="honour_privacy" ${visits.honour_privacy ? 'checked' : ''}> Honour Do Not Track and Global Privacy Control</label>
          <label><input type="checkbox" name="store_ip" ${visits.store_ip ? 'checked' : ''}> Keep visitors' IP addresses</label>
          <div class="actions"><button type="submit" class="primary">Save</button></div>
          <p role="alert"></p>
        </form>
      </section>
      <section class="panel-box" aria-labelledby="keys-heading">
        <h2 id="keys-heading">API keys</h2>
        <div id="company-keys"></div>
        <form id="key-form" class="form-row">
          <label>New key's name <input name="name" required placeholder="What uses it, e.g. CRM sync"></label>
          <div class="actions"><button type="submit" class="primary">Create key</button></div>
          <p role="alert"></p>
        </form>
      </section>`.toString();

    function draw() {
      render(root.querySelector('#company-keys'), keyList(view, ctx));
      render(root.querySelector('#company-prompts'), PROMPTS.map((prompt, i) => promptRow(prompt, view.prompts[i], ctx)));
      readOnly(root, ctx);
    }

    const forms = {
      'company-form': (form) => saveForm(form, (values) => api('PATCH', '/api/v1/company', values)),
      'monitoring-form': (form) => saveForm(form, (values) => api('PATCH', '/api/v1/company', values)),
      'widget-form': (form) => saveForm(form, (values) => api('PATCH', '/api/v1/chat-widget', {
        ...values, allowed_origins: values.allowed_origins.split('\n').map((o) => o.trim()).filter(Boolean),
      })),
      'visits-form': (form) => saveForm(form, (values) => api('PATCH', '/api/v1/visit-settings', values)),
      async 'key-form'(form) {
        const issued = await saveForm(form, (values) => api('POST', '/api/v1/api-keys', values));
        if (!issued) return null;
        form.reset();
        view.issued = issued;
        view.keys = await api('GET', '/api/v1/api-keys');
        draw();
        return issued;
      },
    };
    root.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!Object.hasOwn(forms, event.target.id)) return;
      if (await forms[event.target.id](event.target)) ctx.toast('Saved');
    });

    const actions = {
      copy: ({ dataset }) => navigator.clipboard?.writeText(dataset.text).then(() => ctx.toast('Copied')),
      async revoke({ dataset }) {
        await api('DELETE', `/api/v1/api-keys/${dataset.id}`);
        view.keys = await api('GET', '/api/v1/api-keys');
        ctx.toast('Key revoked: it no longer works');
        draw();
      },
      'hide-key': () => { view.issued = null; draw(); },
      async 'standard-prompt'({ dataset }) {
        await api('DELETE', PROMPTS[dataset.index].path);
        view.prompts[dataset.index] = false;
        ctx.toast('The standard one plays again');
        draw();
      },
    };
    root.addEventListener('click', async (event) => {
      const element = event.target.closest('button[data-action]');
      if (!element || !Object.hasOwn(actions, element.dataset.action)) return;
      try { await actions[element.dataset.action](element); } catch (failure) { ctx.toast(refusal(failure)); }
    });
    root.addEventListener('change', async (event) => {
      const input = event.target.closest('input[type=file][data-index]');
      if (!input?.files.length) return;
      const index = Number(input.dataset.index);
      try {
        await api('PUT', PROMPTS[index].path, new Blob([input.files[0]], { type: 'audio/wav' }));
        view.prompts[index] = true;
        ctx.toast(`${PROMPTS[index].title} recorded`);
      } catch (failure) {
        ctx.toast(refusal(failure));
      }
      input.value = '';
      draw();
    });
    const stop = ['api_key.created', 'api_key.revoked'].map((name) => ctx.onEvent(name, async () => {
      view.keys = await api('GET', '/api/v1/api-keys');
      draw();
    }));
    draw();
    return () => stop.forEach((unsubscribe) => unsubscribe());
  },
};

// Whether the company has its own recording at ``path`` (404: the standard one plays).
async function custom(path) {
  const response = await fetch(path, { method: 'HEAD', credentials: 'same-origin' });
  return response.ok;
}

function promptRow(prompt, own, ctx) {
  const index = PROMPTS.indexOf(prompt);
  return html`
    <div class="prompt" data-key="${prompt.path}">
      <h3>${prompt.title}</h3>
      <p class="hint">${prompt.about}</p>
      ${own ? html`<audio controls preload="none" src="${prompt.path}"></audio>` : html`<p><small>The standard one plays.</small></p>`}
      ${ctx.canEdit() ? html`<div class="actions">
        <label class="upload">Upload a WAV file <input type="file" accept="audio/wav,.wav" data-index="${index}" data-edit></label>
        ${own ? html`<button data-action="standard-prompt" data-index="${index}" data-edit>Use the standard one</button>` : ''}
      </div>` : ''}
    </div>`;
}

function keyList(view, ctx) {
  return html`
    ${view.issued ? html`<div class="secret-once" role="status">
      <p><strong>The key ${view.issued.name}:</strong> copy it now, it is never shown again.</p>
      <p><code id="issued-key">${view.issued.key}</code></p>
      <div class="actions"><button data-action="copy" data-text="${view.issued.key}">Copy</button>
        <button data-action="hide-key">Done</button></div></div>` : ''}
    ${view.keys.length ? html`<table class="rows">
      <thead><tr><th>Name</th><th>Starts with</th><th>Created</th><th>Last used</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${view.keys.map((key) => html`
        <tr data-key="${key.id}" class="${key.revoked_at ? 'inactive' : ''}">
          <td>${key.name}</td><td><code>lc_${key.prefix}_</code></td><td>${when(key.created_at)}</td>
          <td>${key.last_used_at ? when(key.last_used_at) : 'never'}</td>
          <td class="row-actions">${key.revoked_at ? html`<span class="badge off">Revoked</span>` : ctx.canEdit()
    ? html`<button data-action="revoke" data-id="${key.id}" data-edit>Revoke</button>` : ''}</td>
        </tr>`)}</tbody></table>` : html`<p class="empty">No API keys yet.</p>`}`;
}

function when(iso) {
  return new Date(iso).toLocaleString();
}

// The IANA time zones the browser knows, with the company's own even if it does not.
function zones(current) {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([current, 'UTC', ...known])].sort();
}
