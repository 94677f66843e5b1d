// Listen, whisper, barge on a live call, for the console's call rows (Team View): monitorControls(ctx, interaction)
// is the row's buttons. Pressing a mode rings the supervisor's own phone (browser softphone or desk phone) into the
// call in that mode, or switches the mode of the monitor already going; Stop hangs it up. The current mode is
// pressed (aria-pressed). The server decides who may (the company's setting) and says why not; what it says shows
// as a toast. Every control of the page follows the monitor.* events, so a monitor that ends by itself (the phone
// hung up, the call ended) lets go of its buttons.

import { api, refusal } from '../api.js';
import { html, render } from '../html.js';

const MODES = [
  ['listen', 'Listen', 'Hear the call; nobody hears you'],
  ['whisper', 'Whisper', 'Only the agent hears you'],
  ['barge', 'Barge', 'The agent and the caller hear you'],
];

// The signed-in user's live monitors by interaction id, shared by every control of the console, loaded once and
// then kept by the event stream.
const mine = new Map();
const controls = new Set(); // each control's redraw
let loaded = null;

function follow(ctx) {
  if (loaded) return loaded;
  const me = ctx.session.user.id;
  const seen = ({ monitor }) => {
    if (monitor.supervisor !== me) return;
    if (monitor.state === 'active') mine.set(monitor.interaction_id, monitor);
    else if (mine.get(monitor.interaction_id)?.id === monitor.id) mine.delete(monitor.interaction_id);
    redrawAll();
  };
  ['monitor.started', 'monitor.updated', 'monitor.ended'].forEach((name) => ctx.onEvent(name, seen));
  loaded = api('GET', '/api/v1/monitors').then((monitors) => {
    monitors.filter((m) => m.supervisor === me).forEach((m) => mine.set(m.interaction_id, m));
    redrawAll();
  }).catch(() => { loaded = null; });
  return loaded;
}

function redrawAll() {
  for (const redraw of controls) {
    if (redraw.element.isConnected) redraw.shown = true;
    else if (redraw.shown) { controls.delete(redraw); continue; } // its row is gone
    redraw();
  }
}

export function monitorControls(ctx, interaction) {
  const element = document.createElement('span');
  element.className = 'monitor-controls';
  element.dataset.interaction = interaction.id;
  element.setAttribute('role', 'group');
  element.setAttribute('aria-label', 'Monitor this call');
  let busy = false;

  const redraw = () => {
    const monitor = mine.get(interaction.id);
    render(element, html`
      ${MODES.map(([mode, label, title]) => html`
        <button type="button" class="badge ${monitor?.mode === mode ? 'on' : ''}" data-mode="${mode}" title="${title}"
          aria-pressed="${monitor?.mode === mode ? 'true' : 'false'}" ${busy ? 'disabled' : ''}>${label}</button>`)}
      ${monitor ? html`<button type="button" class="badge off" data-stop ${busy ? 'disabled' : ''}>Stop</button>` : ''}`);
  };
  redraw.element = element;
  controls.add(redraw);

  element.addEventListener('click', async (event) => {
    const button = event.target.closest('button');
    if (!button || busy) return;
    const monitor = mine.get(interaction.id);
    busy = true;
    redraw();
    try {
      if (button.hasAttribute('data-stop')) {
        await api('DELETE', `/api/v1/monitors/${monitor.id}`);
        mine.delete(interaction.id);
      } else if (!monitor) {
        const started = await api('POST', `/api/v1/interactions/${interaction.id}/monitor`, { mode: button.dataset.mode });
        mine.set(interaction.id, started);
        ctx.toast('Your phone is ringing: pick it up to join the call');
      } else if (monitor.mode !== button.dataset.mode) {
        mine.set(interaction.id, await api('PATCH', `/api/v1/monitors/${monitor.id}`, { mode: button.dataset.mode }));
      }
    } catch (failure) {
      ctx.toast(refusal(failure));
    } finally {
      busy = false;
      redrawAll();
    }
  });
  redraw();
  follow(ctx);
  return element;
}
