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

// Re-render an area from its HTML: only what changed is touched (the rows of a list are matched by their
// data-interaction, data-agent or data-key), so a live event costs the rows it changed, not the whole area (ten
// tabs on two cores redrawing every row at every event fell seconds behind). Form controls whose markup changed are
// replaced whole, as before (a control's typed value is not its markup); the element that had the focus (marked
// data-focus="key") gets it back, with its caret, so keyboard users keep their place when live events redraw.
const KEYS = ['interaction', 'agent', 'key'];
const CONTROLS = new Set(['INPUT', 'TEXTAREA', 'SELECT', 'OPTION']);

export function render(element, content) {
  const text = part(content);
  if (element.renderedHtml === text) return; // a property of the area's element, not an attribute: no DOM change
  element.renderedHtml = text;
  const active = element.contains(document.activeElement) ? document.activeElement : null;
  const focused = active?.dataset.focus;
  const caret = typeof active?.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
  const next = document.createElement('template');
  next.innerHTML = text;
  patchChildren(element, next.content);
  if (!focused || document.activeElement === active) return;
  const again = element.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
  again?.focus();
  if (caret && typeof again?.setSelectionRange === 'function') again.setSelectionRange(...caret);
}

// Re-render an area made of parts (name -> content), each in a wrapper of its own that CSS does not see
// (display: contents), so that a change to one part does not even re-read the others' markup.
export function renderParts(element, parts) {
  for (const [name, content] of Object.entries(parts)) {
    let holder = element.querySelector(`:scope > [data-part="${name}"]`);
    if (!holder) {
      holder = document.createElement('div');
      holder.dataset.part = name;
      element.append(holder);
    }
    render(holder, content);
  }
}

function keyOf(node) {
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  for (const name of KEYS) if (node.dataset?.[name] !== undefined) return `${node.tagName}:${name}:${node.dataset[name]}`;
  return null;
}

function patchChildren(parent, next) {
  const old = [...parent.childNodes];
  const keyed = new Map(old.map((node) => [keyOf(node), node]).filter(([key]) => key !== null));
  const unkeyed = old.filter((node) => keyOf(node) === null);
  let cursor = parent.firstChild;
  for (const fresh of [...next.childNodes]) {
    const key = keyOf(fresh);
    let node = key === null ? unkeyed.shift() : keyed.get(key);
    if (key !== null) keyed.delete(key);
    if (node && !patch(node, fresh)) node = null;
    const placed = node || fresh;
    if (placed !== cursor) parent.insertBefore(placed, cursor);
    else cursor = cursor.nextSibling;
  }
  while (cursor) { // what the new markup no longer has: every node not placed is after the last one placed
    const after = cursor.nextSibling;
    cursor.remove();
    cursor = after;
  }
}

// Make ``node`` show ``fresh``; false when it cannot be kept (another kind of node, or a form control).
function patch(node, fresh) {
  if (node.isEqualNode(fresh)) return true;
  if (node.nodeType !== fresh.nodeType || node.nodeName !== fresh.nodeName) return false;
  if (node.nodeType !== Node.ELEMENT_NODE) {
    node.nodeValue = fresh.nodeValue;
    return true;
  }
  if (CONTROLS.has(node.nodeName)) return false;
  for (const { name } of [...node.attributes]) if (!fresh.hasAttribute(name)) node.removeAttribute(name);
  for (const { name, value } of [...fresh.attributes]) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }
  patchChildren(node, fresh);
  return true;
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

// Website chats and their offline forms come from visitors, who may leave no name or number.
const FROM_VISITORS = new Set(['chat', 'form']);

export function leadName(interaction) {
  return interaction.lead.name || interaction.lead_number
    || (FROM_VISITORS.has(interaction.kind) ? 'Website visitor' : 'Unknown caller');
}

// The app's icons ship with it (assets/icons.svg), never from the machine's fonts: a pictograph a font lacks is an
// empty box (the voicemail icon was, in Debian's Chromium). Decorative unless given a label.
export function icon(name, label = '') {
  return html`<svg class="icon-svg icon-${name}" focusable="false" ${label ? html`role="img" aria-label="${label}"`
    : html`aria-hidden="true"`}><use href="/assets/icons.svg#${name}"></use></svg>`;
}
