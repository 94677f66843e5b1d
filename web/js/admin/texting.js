// Texting: the SMSC binds texts go through (their state now, and which of the company's numbers each sends for) and
// the opt-out list: the numbers that texted STOP (or an admin opted out), with a way to add one and to opt one back in.

import { api } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm } from './forms.js';

const BIND_STATES = { bound: 'on', connecting: '', disconnected: 'off', stopped: 'off' };

export const page = {
  id: 'texting',
  title: 'Texting',
  icon: 'text',
  role: 'supervisor',
  async show(root, ctx) {
    const view = { binds: [], optOuts: [] };

    async function load() {
      [view.binds, view.optOuts] = await Promise.all([api('GET', '/api/v1/smscs'), api('GET', '/api/v1/opt-outs')]);
      if (!root.querySelector('#smsc-rows')) return; // the page was left meanwhile
      render(root.querySelector('#smsc-rows'), view.binds.length ? html`
        <table class="rows smsc-rows">
          <thead><tr><th>SMSC</th><th>State</th><th>Since</th><th>Sends for</th></tr></thead>
          <tbody>${view.binds.map((b) => html`
            <tr data-key="${b.name}">
              <td><strong>${b.name}</strong></td>
              <td><span class="badge ${BIND_STATES[b.state] ?? ''}">${b.state}</span>
                ${b.last_error ? html`<small>${b.last_error}</small>` : ''}</td>
              <td>${b.bound_since ? new Date(b.bound_since).toLocaleString() : ''}</td>
              <td>${b.numbers.length ? b.numbers.join(', ') : html`<em>none of this company's numbers</em>`}</td>
            </tr>`)}</tbody>
        </table>` : html`<p class="empty">No SMSC is configured: texts cannot be sent ([smpp] in the server's settings).</p>`);
      render(root.querySelector('#opt-out-rows'), view.optOuts.length ? html`
        <table class="rows opt-out-rows">
          <thead><tr><th>Number</th><th>How</th><th>When</th><th></th></tr></thead>
          <tbody>${view.optOuts.map((o) => html`
            <tr data-key="${o.number}">
              <td><strong>${o.number}</strong> ${o.lead_id ? html`<small>lead ${o.lead_id}</small>` : ''}</td>
              <td>${o.keyword === 'ADMIN' ? 'Opted out by an admin' : html`Texted <code>${o.keyword}</code>`}</td>
              <td>${new Date(o.at).toLocaleString()}</td>
              <td class="actions">${ctx.canEdit() ? html`<button type="button" data-action="opt-in"
                data-number="${o.number}" data-edit>Opt back in</button>` : ''}</td>
            </tr>`)}</tbody>
        </table>` : html`<p class="empty">Nobody has opted out.</p>`);
      readOnly(root, ctx);
    }

    root.innerHTML = html`
      <h1>Texting</h1>
      <section class="panel-box" aria-labelledby="smsc-heading">
        <h2 id="smsc-heading">SMSC binds</h2>
        <div id="smsc-rows"></div>
      </section>
      <section class="panel-box" aria-labelledby="opt-out-heading">
        <h2 id="opt-out-heading">Opted out</h2>
        <p>Texts to these numbers are refused. A lead opts back in by texting START.</p>
        <form id="opt-out-form" class="form-row">
          <label>Opt out a number <input name="number" required placeholder="+1 404 555 0199"></label>
          <div class="actions"><button type="submit" class="primary">Opt out</button></div>
          <p role="alert"></p>
        </form>
        <div id="opt-out-rows"></div>
      </section>`.toString();

    const form = root.querySelector('#opt-out-form');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const added = await saveForm(form, (values) => api('POST', '/api/v1/opt-outs', values));
      if (!added) return;
      form.reset();
      ctx.toast(`${added.number} opted out`);
      await load();
    });
    // On the page's own element: the console's root outlives the page (a listener there would pile up per visit).
    root.querySelector('#opt-out-rows').addEventListener('click', async (event) => {
      const button = event.target.closest('button[data-action="opt-in"]');
      if (!button) return;
      try {
        await api('DELETE', `/api/v1/opt-outs/${encodeURIComponent(button.dataset.number)}`);
        ctx.toast(`${button.dataset.number} opted back in`);
      } catch (failure) {
        ctx.toast(failure.message);
      }
      await load();
    });
    const stop = ctx.onEvent('consent.changed', () => load());
    await load();
    return stop;
  },
};
