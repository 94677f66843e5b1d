// Building HTML safely: every interpolated value is escaped unless it is itself built with html``.
// All user-supplied text (names, notes, numbers, tags) reaches the page through here or through textContent.

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

class SafeHtml {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

function part(value) {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === null || value === undefined || value === false) return '';
  return escape(value);
}

export function html(strings, ...values) {
  return new SafeHtml(strings.reduce((out, text, i) => out + text + (i < values.length ? part(values[i]) : ''), ''));
}

// Re-render an area; the element that had the focus (marked data-focus="key") gets it back, so keyboard users
// keep their place when live events redraw the area.
export function render(element, content) {
  const text = part(content);
  if (element.dataset.rendered === text) return;
  const active = element.contains(document.activeElement) ? document.activeElement : null;
  const focused = active?.dataset.focus;
  const caret = typeof active?.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
  element.innerHTML = text;
  element.dataset.rendered = text;
  if (!focused) return;
  const again = element.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
  again?.focus();
  if (caret && typeof again?.setSelectionRange === 'function') again.setSelectionRange(...caret);
}

// Timers (elements with data-since, epoch ms) tick every second without re-rendering their area.
export function tickTimers(root) {
  setInterval(() => root.querySelectorAll('[data-since]').forEach((timer) => {
    timer.textContent = clock((Date.now() - Number(timer.dataset.since)) / 1000);
  }), 1000);
}

// Formatting shared by the areas.
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : String(m)) + ':' + String(r).padStart(2, '0');
}

export function timeOfDay(iso) {
  const when = new Date(iso);
  const sameDay = when.toDateString() === new Date().toDateString();
  return sameDay ? when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : when.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function leadName(interaction) {
  return interaction.lead.name || interaction.lead_number || 'Unknown caller';
}

// The app's icons ship with it (assets/icons.svg), never from the machine's fonts: a pictograph a font lacks is an
// empty box (the voicemail icon was, in Debian's Chromium). Decorative unless given a label.
export function icon(name, label = '') {
  return html`<svg class="icon-svg icon-${name}" focusable="false" ${label ? html`role="img" aria-label="${label}"`
    : html`aria-hidden="true"`}><use href="/assets/icons.svg#${name}"></use></svg>`;
}
