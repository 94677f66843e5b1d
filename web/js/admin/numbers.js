// Tracking numbers: each a phone number of the company on a trunk, tied to a marketing source and entering a call
// flow; whether it texts; the pool of numbers website visitors are shown it from. #/numbers/new adds one,
// #/numbers/3 edits it.

import { api } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm } from './forms.js';

export const page = {
  id: 'numbers',
  title: 'Numbers',
  icon: 'number',
  role: 'supervisor',
  async show(root, ctx, path) {
    const editing = path[0] ?? null;
    const view = { numbers: [] };
    const [trunks, flows, pools] = await Promise.all([
      api('GET', '/api/v1/trunks'), api('GET', '/api/v1/flows'), api('GET', '/api/v1/number-pools'),
    ]);
    const names = {
      trunk: new Map(trunks.map((t) => [t.id, t.name])),
      flow: new Map(flows.map((f) => [f.id, f.name])),
      pool: new Map(pools.map((p) => [p.id, p.name])),
    };

    async function load() {
      view.numbers = await api('GET', '/api/v1/tracking-numbers');
      const rows = root.querySelector('#number-rows');
      if (!rows) return; // the page was left meanwhile
      render(rows, view.numbers.length ? html`
        <table class="rows number-rows">
          <thead><tr><th>Number</th><th>Name</th><th>Source</th><th>Trunk</th><th>Call flow</th><th>Texting</th>
            <th>Pool</th><th></th></tr></thead>
          <tbody>${view.numbers.map((n) => row(n, names, ctx))}</tbody>
        </table>` : html`<p class="empty">No number yet.</p>`);
      readOnly(root, ctx);
    }

    const number = editing && editing !== 'new' ? await api('GET', `/api/v1/tracking-numbers/${editing}`) : null;
    root.innerHTML = html`
      <h1>Numbers</h1>
      ${editing && ctx.canEdit() ? form(number, trunks, flows, pools) : ''}
      <section class="panel-box" aria-labelledby="numbers-heading">
        <h2 id="numbers-heading">Tracking numbers</h2>
        <div id="number-rows"></div>
        ${ctx.canEdit() && !editing ? html`<p><a class="button primary" href="#/numbers/new">Add a number</a></p>` : ''}
      </section>`.toString();

    const numberForm = root.querySelector('#number-form');
    numberForm?.addEventListener('submit', async (event) => {
      event.preventDefault();
      const saved = await saveForm(numberForm, (values) => {
        const body = { ...values, trunk: Number(values.trunk), flow: id(values.flow), pool: id(values.pool) };
        return number ? api('PATCH', `/api/v1/tracking-numbers/${number.id}`, body)
          : api('POST', '/api/v1/tracking-numbers', body);
      });
      if (!saved) return;
      ctx.toast(`${saved.number} ${number ? 'saved' : 'added'}`);
      ctx.go('#/numbers');
    });
    // On the page's own element: the console's root outlives the page (a listener there would pile up per visit).
    root.querySelector('#number-rows').addEventListener('click', async (event) => {
      const button = event.target.closest('button[data-action]');
      if (!button) return;
      const target = view.numbers.find((n) => n.id === Number(button.dataset.id));
      try {
        if (button.dataset.action === 'texting') {
          await api('PATCH', `/api/v1/tracking-numbers/${target.id}`, { texting: !target.texting });
          ctx.toast(`Texting ${target.texting ? 'off' : 'on'} for ${target.number}`);
        } else if (button.dataset.action === 'delete') {
          if (!window.confirm(`Delete ${target.number} (${target.name})?`)) return;
          await api('DELETE', `/api/v1/tracking-numbers/${target.id}`);
          ctx.toast(`${target.number} deleted`);
        }
      } catch (failure) {
        ctx.toast(failure.message);
      }
      await load();
    });
    const stops = ['tracking_number.created', 'tracking_number.updated', 'tracking_number.deleted']
      .map((name) => ctx.onEvent(name, () => load()));
    await load();
    return () => stops.forEach((stop) => stop());
  },
};

const id = (value) => (value ? Number(value) : null);

function row(number, names, ctx) {
  return html`
    <tr data-key="${number.id}">
      <td><strong>${number.number}</strong></td>
      <td>${number.name}</td>
      <td>${number.source || html`<em>none</em>`}</td>
      <td>${names.trunk.get(number.trunk) || number.trunk}</td>
      <td>${number.flow ? names.flow.get(number.flow) || number.flow : html`<span class="badge off">No flow</span>`}</td>
      <td><button type="button" class="badge ${number.texting ? 'on' : 'off'}" data-action="texting" data-id="${number.id}"
        data-edit aria-pressed="${number.texting}" title="Turn texting ${number.texting ? 'off' : 'on'}">${number.texting ? 'On' : 'Off'}</button></td>
      <td>${number.pool ? names.pool.get(number.pool) || number.pool : ''}</td>
      <td class="actions">${ctx.canEdit() ? html`<a href="#/numbers/${number.id}">Edit</a>
        <button type="button" data-action="delete" data-id="${number.id}" data-edit>Delete</button>` : ''}</td>
    </tr>`;
}

function form(number, trunks, flows, pools) {
  const n = number || { number: '', name: '', source: '', trunk: trunks[0]?.id, flow: null, pool: null, texting: true };
  const options = (rows, chosen, none) => html`${none ? html`<option value="">${none}</option>` : ''}${rows.map((r) => html`
    <option value="${r.id}" ${r.id === chosen ? 'selected' : ''}>${r.name}</option>`)}`;
  return html`
    <section class="panel-box" aria-labelledby="number-form-heading">
      <h2 id="number-form-heading">${number ? `Edit ${number.number}` : 'Add a number'}</h2>
      <form id="number-form">
        <div class="form-row">
          <label>Phone number <input name="number" value="${n.number}" required placeholder="+1 404 555 0100"></label>
          <label>Name <input name="name" value="${n.name}" required maxlength="100"></label>
          <label>Source <input name="source" value="${n.source}" maxlength="100" placeholder="Google Ads"></label>
        </div>
        <div class="form-row">
          <label>Trunk <select name="trunk" required>${options(trunks, n.trunk)}</select></label>
          <label>Call flow <select name="flow">${options(flows, n.flow, 'None: callers hear no service')}</select></label>
          <label>Pool <select name="pool">${options(pools, n.pool, 'None')}</select></label>
        </div>
        <label><input type="checkbox" name="texting" ${n.texting ? 'checked' : ''}> Sends and takes texts</label>
        <div class="actions"><button type="submit" class="primary">${number ? 'Save' : 'Add'}</button>
          <a href="#/numbers">Cancel</a></div>
        <p role="alert"></p>
      </form>
    </section>`;
}
