// Call flows: the company's flows (#/flows) and one flow's editor (#/flows/5). A flow is an ordered list of steps a
// call goes through; business hours and IVR menus hold branches, each its own list of steps (or another flow), shown
// nested under their step. The editor keeps the flow as the API shows it (`flow.steps`) and draws it again after every
// change; each control is named by its path in the flow (steps.0.open.steps.1.team), which is how the server names
// a field's error, so errors land next to their control. A save sends the version it was made to: someone else's
// save meanwhile is refused (409 changed) rather than overwritten. Every save is a version and can be restored.

import { api, refusal } from '../api.js';
import { html, icon, render } from '../html.js';
import { readOnly, showErrors, clearErrors } from './forms.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
const TYPES = {
  greeting: 'Play a greeting',
  hours: 'Business hours',
  ivr: 'IVR menu',
  queue: 'Queue (a team)',
  ring_agents: 'Ring agents',
  forward: 'Forward to a number',
  voicemail: 'Voicemail',
  hangup: 'Hang up',
  custom: 'Custom dialplan',
};
const branch = () => ({ steps: [], flow: null });
// A new step of each type, with the API's defaults; `company` holds the lists a step picks from.
const NEW = {
  greeting: (c) => ({ type: 'greeting', sound: c.sounds[0]?.name ?? '' }),
  hours: () => ({
    type: 'hours', weekly: [{ days: DAYS.slice(0, 5), open: '09:00', close: '17:00' }], holidays: [],
    open: branch(), closed: branch(),
  }),
  ivr: () => ({
    type: 'ivr', sound: null, timeout: 5, attempts: 3, digits: { 1: branch() }, no_input: branch(), invalid: branch(),
  }),
  queue: (c) => ({ type: 'queue', team: c.teams[0]?.id ?? null, timeout: 300 }),
  ring_agents: (c) => ({ type: 'ring_agents', agents: c.agents.slice(0, 1).map((a) => a.id), timeout: 30 }),
  forward: (c) => ({ type: 'forward', number: '', trunk: c.trunks[0]?.id ?? null, timeout: 30 }),
  voicemail: () => ({ type: 'voicemail', agent: null }),
  hangup: () => ({ type: 'hangup' }),
  custom: (c) => ({ type: 'custom', context: c.customs[0]?.name ?? '' }),
};

export const page = {
  id: 'flows',
  title: 'Call flows',
  icon: 'flow',
  role: 'supervisor',
  show(root, ctx, path) {
    return path.length ? editor(root, ctx, Number(path[0])) : list(root, ctx);
  },
};

// -- the list --------------------------------------------------------------------------------------------------

async function list(root, ctx) {
  const [flows, numbers] = await Promise.all([api('GET', '/api/v1/flows'), api('GET', '/api/v1/tracking-numbers')]);
  root.innerHTML = html`
    <h1>Call flows</h1>
    <section class="panel-box">
      <table class="rows flow-rows">
        <thead><tr><th>Flow</th><th>Steps</th><th>Tracking numbers</th><th>Version</th></tr></thead>
        <tbody>${flows.map((flow) => html`
          <tr data-key="${flow.id}">
            <td><a href="#/flows/${flow.id}">${flow.name}</a></td>
            <td>${flow.steps.map((step) => TYPES[step.type] || step.type).join(', then ')}</td>
            <td>${numbers.filter((n) => n.flow === flow.id).map((n) => `${n.number} (${n.name})`).join(', ') || html`<small>none</small>`}</td>
            <td>${flow.version}</td>
          </tr>`)}</tbody>
      </table>
    </section>
    <section class="panel-box">
      <h2>New flow</h2>
      <form id="new-flow" class="form-row">
        <label>Name <input name="name" required placeholder="e.g. Front desk"></label>
        <div class="actions"><button type="submit" class="primary">Create flow</button></div>
        <p role="alert"></p>
      </form>
    </section>`.toString();
  root.querySelector('#new-flow').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      // A flow has at least one step: voicemail until the admin builds it.
      const name = form.querySelector('[name=name]').value;
      const made = await api('POST', '/api/v1/flows', { name, steps: [{ type: 'voicemail' }] });
      ctx.go(`#/flows/${made.id}`);
    } catch (failure) {
      showErrors(form, failure);
    }
  });
  readOnly(root, ctx);
}

// -- the editor ------------------------------------------------------------------------------------------------

async function editor(root, ctx, id) {
  const load = () => Promise.all([api('GET', `/api/v1/flows/${id}`), api('GET', `/api/v1/flows/${id}/versions`)]);
  const [teams, agents, trunks, flows, sounds, customs] = await Promise.all([
    api('GET', '/api/v1/teams'), api('GET', '/api/v1/agents'), api('GET', '/api/v1/trunks'),
    api('GET', '/api/v1/flows'), api('GET', '/api/v1/flow-sounds'), api('GET', '/api/v1/custom-contexts'),
  ]);
  const company = { teams, agents, trunks, flows: flows.filter((f) => f.id !== id), sounds, customs };
  let [flow, versions] = await load();
  let saved = JSON.stringify(flow);
  root.innerHTML = html`
    <h1><a class="link" href="#/flows">Call flows</a> › <span id="flow-title"></span></h1>
    <form id="flow-form" novalidate>
      <section class="panel-box">
        <div class="form-row">
          <label>Name <input name="name" required></label>
          <label class="check"><input type="checkbox" name="record"> Record calls</label>
          <label class="check"><input type="checkbox" name="announce_recording"> Tell callers they are recorded</label>
        </div>
      </section>
      <section class="panel-box" aria-labelledby="steps-heading">
        <h2 id="steps-heading">Steps <small>tried in order until one connects the call</small></h2>
        <div id="flow-steps"></div>
      </section>
      <div class="actions sticky-actions">
        <button type="submit" class="primary">Save and apply</button>
        <span id="flow-state" class="hint"></span>
      </div>
      <p role="alert"></p>
    </form>
    <section class="panel-box" aria-labelledby="sounds-heading">
      <h2 id="sounds-heading">Sounds</h2>
      <p class="hint">Greetings and menu prompts: WAV files, played by name.</p>
      <div id="flow-sounds"></div>
      <form id="sound-form" class="form-row">
        <label>Name <input name="name" required pattern="[a-z0-9][a-z0-9-]{0,39}" placeholder="e.g. welcome"></label>
        <label class="upload">WAV file <input type="file" name="file" accept="audio/wav,.wav"></label>
        <div class="actions"><button type="submit">Upload</button>
          <button type="button" data-action="record" data-edit>Record</button>
          <span id="recording" class="hint" role="status"></span></div>
        <p role="alert"></p>
      </form>
    </section>
    <section class="panel-box" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions</h2>
      <div id="flow-versions"></div>
    </section>`.toString();
  const form = root.querySelector('#flow-form');

  function draw() {
    root.querySelector('#flow-title').textContent = flow.name;
    const field = (name) => form.querySelector(`[name="${name}"]`);
    field('name').value = flow.name;
    field('record').checked = flow.record;
    field('announce_recording').checked = flow.announce_recording;
    render(root.querySelector('#flow-steps'), stepList(flow.steps, 'steps', company));
    render(root.querySelector('#flow-sounds'), html`<ul class="sound-list">${company.sounds.map((s) => html`
      <li data-key="${s.name}"><code>${s.name}</code> <small>${s.seconds} s</small>
        <audio controls preload="none" src="${s.url}"></audio></li>`)}</ul>`);
    render(root.querySelector('#flow-versions'), html`
      <table class="rows version-rows"><thead><tr><th>Version</th><th>Saved</th><th>By</th><th>Name</th><th></th></tr></thead>
      <tbody>${versions.map((v) => html`<tr data-key="${v.version}">
        <td>${v.version}</td><td>${new Date(v.saved_at).toLocaleString()}</td><td>${v.saved_by || 'the command line'}</td>
        <td>${v.name}</td>
        <td class="row-actions">${v.version === flow.version ? html`<span class="badge">current</span>` : html`
          <button type="button" data-action="restore" data-version="${v.version}" data-edit>Restore</button>`}</td>
      </tr>`)}</tbody></table>`);
    root.querySelector('#flow-state').textContent = JSON.stringify(flow) === saved ? '' : 'Not saved yet';
    readOnly(root, ctx);
  }

  // A control changed: its value goes into the flow at its path.
  function changed(event) {
    const control = event.target;
    if (!control.name || control.form !== form) return;
    if (control.dataset.kind === 'day') {
      const days = [...form.querySelectorAll(`input[name="${CSS.escape(control.name)}"]:checked`)].map((c) => c.value);
      assign(flow, control.name, DAYS.filter((d) => days.includes(d)));
    } else if (control.dataset.kind === 'lines') {
      assign(flow, control.name, control.value.split('\n').map((line) => line.trim()).filter(Boolean));
    } else if (control.multiple) {
      assign(flow, control.name, [...control.selectedOptions].map((o) => Number(o.value)));
    } else if (control.dataset.kind === 'target') {
      const where = lookup(flow, control.name);
      where.flow = control.value === '' ? null : Number(control.value);
      if (where.flow !== null) where.steps = [];
    } else if (control.type === 'checkbox') assign(flow, control.name, control.checked);
    else if (control.type === 'number' || control.dataset.kind === 'id') {
      assign(flow, control.name, control.value === '' ? null : Number(control.value));
    } else assign(flow, control.name, control.value === '' && control.dataset.kind === 'optional' ? null : control.value);
    draw();
  }
  form.addEventListener('change', changed);

  const actions = {
    add({ dataset }) {
      const list = lookup(flow, dataset.path);
      const type = form.querySelector(`select[data-add="${CSS.escape(dataset.path)}"]`).value;
      list.push(NEW[type](company));
    },
    remove({ dataset }) { lookup(flow, dataset.path).splice(Number(dataset.index), 1); },
    up({ dataset }) { move(lookup(flow, dataset.path), Number(dataset.index), -1); },
    down({ dataset }) { move(lookup(flow, dataset.path), Number(dataset.index), 1); },
    'add-hours': ({ dataset }) => lookup(flow, dataset.path).push({ days: DAYS.slice(0, 5), open: '09:00', close: '17:00' }),
    'add-key'({ dataset }) {
      const digits = lookup(flow, dataset.path);
      const free = DIGITS.find((d) => !(d in digits));
      if (free) digits[free] = branch();
    },
    'remove-key': ({ dataset }) => { delete lookup(flow, dataset.path)[dataset.digit]; },
    // Record from the microphone (or stop and upload what was recorded) under the name typed in the sound form.
    async record(button) {
      const upload = root.querySelector('#sound-form');
      const status = root.querySelector('#recording');
      if (recorder) {
        const wav = await recorder.stop();
        recorder = null;
        button.textContent = 'Record';
        status.textContent = '';
        await sendSound(upload, wav);
        return;
      }
      if (!upload.querySelector('[name=name]').reportValidity()) return;
      recorder = await startRecording((seconds) => { status.textContent = `Recording: ${seconds.toFixed(1)} s`; });
      button.textContent = 'Stop and save';
    },
    async restore({ dataset }) {
      flow = await api('POST', `/api/v1/flows/${id}/versions/${dataset.version}/restore`, { version: flow.version });
      saved = JSON.stringify(flow);
      versions = await api('GET', `/api/v1/flows/${id}/versions`);
      ctx.toast(`Version ${dataset.version} restored and applied`);
    },
  };
  root.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || !Object.hasOwn(actions, button.dataset.action)) return;
    event.preventDefault();
    try {
      await actions[button.dataset.action](button);
    } catch (failure) {
      showErrors(form, failure);
    }
    draw();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    clearErrors(form);
    try {
      const body = { version: flow.version, name: flow.name, record: flow.record,
        announce_recording: flow.announce_recording, steps: flow.steps };
      flow = await api('PATCH', `/api/v1/flows/${id}`, body);
      saved = JSON.stringify(flow);
      versions = await api('GET', `/api/v1/flows/${id}/versions`);
      draw();
      ctx.toast('Saved and applied');
    } catch (failure) {
      draw();
      showErrors(form, failure);
      if (failure.error === 'changed') {
        form.querySelector('[role=alert]').textContent = `${refusal(failure)} Your changes are still here; reload to see theirs.`;
      }
    } finally {
      submit.disabled = !ctx.canEdit();
    }
  });

  let recorder = null; // the microphone recording under way
  async function sendSound(upload, wav) {
    try {
      const name = upload.querySelector('[name=name]').value;
      await api('POST', `/api/v1/flow-sounds?name=${encodeURIComponent(name)}`, wav);
      company.sounds = await api('GET', '/api/v1/flow-sounds');
      upload.reset();
      ctx.toast(`Sound ${name} saved`);
      draw();
    } catch (failure) {
      showErrors(upload, failure);
    }
  }
  root.querySelector('#sound-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const file = event.target.querySelector('[name=file]').files[0];
    if (file) sendSound(event.target, new Blob([file], { type: 'audio/wav' }));
  });

  const stop = ctx.onEvent('flow.updated', async (data) => {
    if (data.flow?.id !== id || data.flow.version === flow.version) return;
    versions = await api('GET', `/api/v1/flows/${id}/versions`);
    if (JSON.stringify(flow) === saved) { // nothing of ours unsaved: show theirs
      flow = data.flow;
      saved = JSON.stringify(flow);
    } else ctx.toast('Someone else saved this flow: saving yours will be refused until you reload');
    draw();
  });
  draw();
  return () => {
    stop();
    recorder?.cancel();
  };
}

// Microphone audio as a WAV file (16-bit mono PCM, the browser's rate: the server converts it as it converts an
// uploaded greeting). ``tick(seconds)`` is told the length as it grows.
async function startRecording(tick) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const tap = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  let length = 0;
  tap.onaudioprocess = (event) => {
    const samples = event.inputBuffer.getChannelData(0);
    chunks.push(new Float32Array(samples));
    length += samples.length;
    tick(length / context.sampleRate);
  };
  source.connect(tap);
  tap.connect(context.destination);
  const close = () => {
    tap.disconnect();
    source.disconnect();
    stream.getTracks().forEach((track) => track.stop());
    return context.close();
  };
  return {
    cancel: close,
    async stop() {
      await close();
      return wavFile(chunks, length, context.sampleRate);
    },
  };
}

function wavFile(chunks, length, rate) {
  const data = new DataView(new ArrayBuffer(44 + length * 2));
  const text = (at, value) => [...value].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  data.setUint32(4, 36 + length * 2, true);
  text(8, 'WAVEfmt ');
  data.setUint32(16, 16, true);
  data.setUint16(20, 1, true); // PCM
  data.setUint16(22, 1, true); // mono
  data.setUint32(24, rate, true);
  data.setUint32(28, rate * 2, true);
  data.setUint16(32, 2, true);
  data.setUint16(34, 16, true);
  text(36, 'data');
  data.setUint32(40, length * 2, true);
  let at = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      data.setInt16(at, Math.max(-1, Math.min(1, sample)) * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([data.buffer], { type: 'audio/wav' });
}

function move(list, index, by) {
  const to = index + by;
  if (to < 0 || to >= list.length) return;
  [list[index], list[to]] = [list[to], list[index]];
}

function lookup(object, path) {
  return path.split('.').reduce((at, key) => at[key], object);
}

function assign(object, path, value) {
  const keys = path.split('.');
  const last = keys.pop();
  (keys.length ? lookup(object, keys.join('.')) : object)[last] = value;
}

// -- drawing the steps ------------------------------------------------------------------------------------------

const error = (name) => html`<small class="field-error" data-for="${name}"></small>`;

function stepList(steps, path, company) {
  return html`
    <ol class="flow-steps" data-path="${path}">${steps.map((step, index) => stepCard(step, `${path}.${index}`, index, steps.length, path, company))}</ol>
    ${error(path)}
    <div class="add-step">
      <select data-add="${path}" aria-label="Step to add" data-edit>${Object.entries(TYPES).map(([type, title]) => html`
        <option value="${type}">${title}</option>`)}</select>
      <button type="button" data-action="add" data-path="${path}" data-edit>Add step</button>
    </div>`;
}

function stepCard(step, path, index, count, listPath, company) {
  return html`
    <li class="flow-step step-${step.type}" data-key="${path}">
      <header>
        <span class="step-number">${index + 1}</span>
        <strong>${TYPES[step.type] || step.type}</strong>
        <span class="step-moves">
          <button type="button" data-action="up" data-path="${listPath}" data-index="${index}" ${index === 0 ? 'disabled' : ''}
            aria-label="Move step ${index + 1} up" data-edit>${icon('up')}</button>
          <button type="button" data-action="down" data-path="${listPath}" data-index="${index}" ${index === count - 1 ? 'disabled' : ''}
            aria-label="Move step ${index + 1} down" data-edit>${icon('down')}</button>
          <button type="button" data-action="remove" data-path="${listPath}" data-index="${index}"
            aria-label="Remove step ${index + 1}" data-edit>Remove</button>
        </span>
      </header>
      ${error(path)}
      ${(FIELDS[step.type] || (() => ''))(step, path, company)}
    </li>`;
}

const options = (rows, chosen, label, none = null) => html`
  ${none !== null ? html`<option value="" ${chosen == null ? 'selected' : ''}>${none}</option>` : ''}
  ${rows.map((row) => html`<option value="${row.id ?? row.name}" ${(row.id ?? row.name) === chosen ? 'selected' : ''}>${label(row)}</option>`)}`;

const number = (name, value, min, max, title) => html`
  <label>${title} <input type="number" name="${name}" value="${value}" min="${min}" max="${max}"></label>`;

const FIELDS = {
  greeting: (step, path, c) => html`<div class="form-row">
    <label>Sound <select name="${path}.sound">${options(c.sounds, step.sound, (s) => s.name, step.sound ? null : '(upload one below)')}</select></label></div>`,
  queue: (step, path, c) => html`<div class="form-row">
    <label>Team <select name="${path}.team" data-kind="id">${options(c.teams, step.team, (t) => t.name)}</select></label>
    ${number(`${path}.timeout`, step.timeout, 5, 3600, 'Longest wait (s)')}</div>`,
  ring_agents: (step, path, c) => html`<div class="form-row">
    <label>Agents <select name="${path}.agents" multiple size="${Math.min(4, c.agents.length)}">${c.agents.map((a) => html`
      <option value="${a.id}" ${step.agents.includes(a.id) ? 'selected' : ''}>${a.display_name}</option>`)}</select></label>
    ${number(`${path}.timeout`, step.timeout, 5, 3600, 'Ring for (s)')}</div>`,
  voicemail: (step, path, c) => html`<div class="form-row">
    <label>Mailbox <select name="${path}.agent" data-kind="id">${options(c.agents, step.agent, (a) => `${a.display_name}'s`, "The company's")}</select></label></div>`,
  forward: (step, path, c) => html`<div class="form-row">
    <label>Number <input name="${path}.number" value="${step.number}" placeholder="+14045550123"></label>
    <label>Through trunk <select name="${path}.trunk" data-kind="id">${options(c.trunks, step.trunk, (t) => t.name)}</select></label>
    ${number(`${path}.timeout`, step.timeout, 5, 3600, 'Ring for (s)')}</div>
    <p class="hint">The person called sees the tracking number the caller dialled.</p>`,
  hangup: () => '',
  custom: (step, path, c) => html`<div class="form-row">
    <label>Context <select name="${path}.context">${options(c.customs, step.context, (x) => x.name, step.context ? null : '(none yet: the installation owner writes them)')}</select></label></div>
    <p class="hint">The call goes on in the installation owner's dialplan.</p>`,
  hours: (step, path, c) => html`
    <p class="hint">In the company's time zone.</p>
    <ul class="opening-hours">${step.weekly.map((row, i) => html`
      <li data-key="${path}.weekly.${i}">
        <fieldset class="days"><legend>Days</legend>${DAYS.map((day) => html`
          <label><input type="checkbox" name="${path}.weekly.${i}.days" value="${day}" data-kind="day" ${row.days.includes(day) ? 'checked' : ''}> ${day}</label>`)}</fieldset>
        <label>Opens <input type="time" name="${path}.weekly.${i}.open" value="${row.open}"></label>
        <label>Closes <input name="${path}.weekly.${i}.close" value="${row.close}" pattern="[0-2][0-9]:[0-5][0-9]" size="5" title="HH:MM, 24:00 for midnight"></label>
        <button type="button" data-action="remove" data-path="${path}.weekly" data-index="${i}" data-edit>Remove</button>
        ${error(`${path}.weekly.${i}`)}
      </li>`)}</ul>
    <button type="button" data-action="add-hours" data-path="${path}.weekly" data-edit>Add opening hours</button>
    <label>Holidays (closed all day), one date a line <textarea name="${path}.holidays" data-kind="lines" rows="2"
      placeholder="2026-12-25">${step.holidays.join('\n')}</textarea></label>
    ${branchBox('When open', step.open, `${path}.open`, c)}
    ${branchBox('When closed', step.closed, `${path}.closed`, c)}`,
  ivr: (step, path, c) => html`<div class="form-row">
    <label>Menu prompt <select name="${path}.sound" data-kind="optional">${options(c.sounds, step.sound, (s) => s.name, '(none: silence)')}</select></label>
    ${number(`${path}.timeout`, step.timeout, 1, 30, 'Wait for a key (s)')}
    ${number(`${path}.attempts`, step.attempts, 1, 5, 'Tries')}</div>
    ${error(`${path}.digits`)}
    ${Object.entries(step.digits).sort(([a], [b]) => DIGITS.indexOf(a) - DIGITS.indexOf(b)).map(([digit, target]) => branchBox(
      html`Key ${digit} <button type="button" class="link" data-action="remove-key" data-path="${path}.digits" data-digit="${digit}" data-edit>remove</button>`,
      target, `${path}.digits.${digit}`, c))}
    ${Object.keys(step.digits).length < DIGITS.length ? html`<button type="button" data-action="add-key" data-path="${path}.digits" data-edit>Add a key</button>` : ''}
    ${branchBox('No key pressed', step.no_input, `${path}.no_input`, c)}
    ${branchBox('A key the menu does not have', step.invalid, `${path}.invalid`, c)}`,
};

// A branch: its own steps, or another flow. Empty steps: the call goes on after the branching step.
function branchBox(title, target, path, c) {
  return html`
    <fieldset class="branch" data-key="${path}">
      <legend>${title}</legend>
      <label>Then <select name="${path}" data-kind="target">
        <option value="" ${target.flow == null ? 'selected' : ''}>these steps</option>
        ${c.flows.map((f) => html`<option value="${f.id}" ${f.id === target.flow ? 'selected' : ''}>go to flow ${f.name}</option>`)}
      </select></label>
      ${error(`${path}.flow`)}
      ${target.flow == null ? stepList(target.steps, `${path}.steps`, c) : ''}
    </fieldset>`;
}
