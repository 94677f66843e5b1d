// The Dialplans page, the installation owner's only: custom dialplan contexts edited beside the generated dialplan
// (read-only), each context's versions with Restore, and what Asterisk said when it refused a save (nothing changed
// then). The server checks and applies everything; this page only shows its answers.

import { api, refusal } from '../api.js';
import { html } from '../html.js';
import { saveForm, showErrors } from './forms.js';

const EXAMPLE = `; calls enter at s,1 (a call flow's "custom" step)
exten => s,1,Answer()
 same => n,Playback(ss-noservice)
 same => n,Hangup()
`;

export const page = {
  id: 'dialplans',
  title: 'Dialplans',
  icon: 'dialplan',
  role: 'owner',
  async show(root, ctx, path) {
    const [generated, contexts] = await Promise.all([
      api('GET', '/api/v1/generated-dialplan'),
      api('GET', '/api/v1/dialplans'),
    ]);
    const chosen = path[0] ? contexts.find((c) => c.name === path[0]) : null;
    const versions = chosen ? await api('GET', `/api/v1/dialplans/${encodeURIComponent(chosen.name)}/versions`) : [];
    const companies = ctx.session.companies || [];

    root.innerHTML = html`
      <h1>Dialplans</h1>
      <p class="read-only">Installation-wide, and yours only as the installation owner: company admins never see raw
        dialplan (it can dial anything). Their call flows send calls here with a <strong>Custom context</strong> step.
        A save is checked (the lines, the applications, includes of generated contexts only), read by Asterisk, and
        live at once; if Asterisk refuses it, nothing changes.</p>
      <div class="dialplans">
        <section class="panel-box dialplan-list" aria-label="Custom contexts">
          <h2>Custom contexts</h2>
          ${contexts.length ? html`<ul>${contexts.map((c) => html`
            <li data-key="${c.name}"><a href="#/dialplans/${c.name}" ${c === chosen ? html`aria-current="true"` : ''}>
              <code>${c.context}</code></a> <small>v${c.version}${c.company_id ? html` · company ${c.company_id}` : ''}</small></li>`)}
          </ul>` : html`<p class="empty">None yet.</p>`}
          <p><a class="button" href="#/dialplans">New context</a></p>
        </section>
        <section class="panel-box dialplan-editor">
          <h2>${chosen ? html`<code>${chosen.context}</code> <small>version ${chosen.version}</small>` : 'New context'}</h2>
          <form id="dialplan-form" aria-label="Custom context">
            ${chosen ? html`<input type="hidden" name="version" value="${chosen.version}">` : html`
            <label>Name <small>(the context is custom-<em>name</em>)</small>
              <input name="name" required maxlength="40" placeholder="after-hours"></label>`}
            <label>Which company's flows may use it
              <select name="company_id"><option value="">Any company</option>${companies.map((c) => html`
                <option value="${c.id}" ${chosen?.company_id === c.id ? 'selected' : ''}>${c.name}</option>`)}</select></label>
            <label>Lines <small>(exten =>, same =>, include => a generated context; ; comments)</small>
              <textarea name="text" rows="16" spellcheck="false" class="code">${chosen ? chosen.text : EXAMPLE}</textarea></label>
            <pre role="alert" class="asterisk-said"></pre>
            <div class="actions"><button type="submit" class="primary">${chosen ? 'Save' : 'Create'}</button>
              ${chosen ? html`<button type="button" data-action="delete">Delete</button>` : ''}</div>
          </form>
          ${chosen ? html`
          <h3>Versions</h3>
          <table class="rows dialplan-versions">
            <thead><tr><th>Version</th><th>Saved</th><th>By</th><th></th></tr></thead>
            <tbody>${versions.map((v) => html`
              <tr data-key="${v.number}"><td>${v.number}${v.restored_from ? html` <small>(restored from ${v.restored_from})</small>` : ''}</td>
                <td><time datetime="${v.saved_at}">${new Date(v.saved_at).toLocaleString()}</time></td>
                <td>${v.saved_by || ''}</td>
                <td>${v.number === chosen.version ? html`<span class="badge">in force</span>`
                  : html`<button data-action="restore" data-number="${v.number}">Restore</button>`}</td></tr>`)}
            </tbody>
          </table>` : ''}
        </section>
        <section class="panel-box dialplan-generated" aria-label="Generated dialplan">
          <h2>Generated dialplan <small>(read-only)</small></h2>
          <p>Rendered from the database; a custom context may include: ${generated.contexts.map((c) => html`<code>${c}</code> `)}</p>
          ${generated.files.map((f, i) => html`
            <details ${i === generated.files.length - 1 ? 'open' : ''}><summary><code>${f.name}</code></summary>
              <pre class="code" tabindex="0">${f.text}</pre></details>`)}
        </section>
      </div>`.toString();

    const form = root.querySelector('#dialplan-form');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      let failed = null;
      const saved = await saveForm(form, (values) => {
        const body = { text: values.text, company_id: values.company_id ? Number(values.company_id) : null };
        const sent = chosen
          ? api('PATCH', `/api/v1/dialplans/${encodeURIComponent(chosen.name)}`, { ...body, version: Number(values.version) })
          : api('POST', '/api/v1/dialplans', { ...body, name: values.name });
        return sent.catch((failure) => { failed = failure; throw failure; });
      });
      if (failed?.error === 'asterisk-refused') {
        form.querySelector('[role=alert]').textContent = chosen
          ? `Asterisk refused this text: nothing changed, version ${chosen.version} is still in force.`
          : 'Asterisk refused this text: nothing was created.';
      }
      if (!saved) return;
      ctx.toast(`${saved.context} version ${saved.version} is live`);
      reopen(ctx, saved.name, chosen);
    });
    // On the page's own element, made anew with each showing: root (the console's) outlives it, and a listener
    // added there each time would act once per showing (a Restore restoring twice).
    root.querySelector('.dialplans').addEventListener('click', async (event) => {
      const restore = event.target.closest('[data-action="restore"]');
      const remove = event.target.closest('[data-action="delete"]');
      if (!chosen || (!restore && !remove)) return;
      try {
        if (restore) {
          const restored = await api('POST',
            `/api/v1/dialplans/${encodeURIComponent(chosen.name)}/versions/${restore.dataset.number}/restore`);
          ctx.toast(`version ${restore.dataset.number} restored as version ${restored.version}`);
          reopen(ctx, chosen.name, chosen);
        } else if (window.confirm(`Delete ${chosen.context} and its versions?`)) {
          await api('DELETE', `/api/v1/dialplans/${encodeURIComponent(chosen.name)}`);
          ctx.toast(`${chosen.context} deleted`);
          ctx.go('#/dialplans');
        }
      } catch (failure) {
        showErrors(form, failure);
        if (!failure.fields || !Object.keys(failure.fields).length) ctx.toast(refusal(failure));
      }
    });
  },
};

// Show the context again with what the server now has (its versions too).
function reopen(ctx, name, chosen) {
  if (chosen && chosen.name === name) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else ctx.go(`#/dialplans/${name}`);
}
