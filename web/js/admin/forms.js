// The console's forms: what a form holds as an object, the server's field errors shown next to their fields, and a
// save that cannot be sent twice. A field's error goes in the <small class="field-error" data-for="name"> after it
// (dotted names for nested fields: steps.2.timeout); any other error in the form's [role=alert].

import { refusal } from '../api.js';

// The form's named controls as an object: a checkbox as true/false, a number input as a number (null when empty),
// the same name twice (checkboxes of a set) as a list of the checked values; dotted names nest (a.b -> {a: {b}}).
export function formValues(form) {
  const values = {};
  const counts = {};
  for (const control of form.elements) if (control.name) counts[control.name] = (counts[control.name] || 0) + 1;
  for (const control of form.elements) {
    const { name, type } = control;
    if (!name || control.matches(':disabled') || type === 'submit' || type === 'button') continue;
    let value;
    if (type === 'checkbox' && counts[name] > 1) {
      value = [...(lookup(values, name) || [])];
      if (control.checked) value.push(control.value);
    } else if (type === 'checkbox') value = control.checked;
    else if (type === 'radio') {
      if (!control.checked) continue;
      value = control.value;
    } else if (type === 'number') value = control.value === '' ? null : Number(control.value);
    else value = control.value;
    assign(values, name, value);
  }
  return values;
}

function lookup(values, name) {
  return name.split('.').reduce((at, key) => (at == null ? undefined : at[key]), values);
}

function assign(values, name, value) {
  const keys = name.split('.');
  const last = keys.pop();
  let at = values;
  for (const key of keys) at = (at[key] ??= {});
  at[last] = value;
}

// Where a field's error goes: its <small data-for>, made after the control when the page has none.
function errorSlot(form, name) {
  const existing = form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
  if (existing) return existing;
  const control = form.elements.namedItem(name);
  const element = control instanceof RadioNodeList ? control[control.length - 1] : control;
  if (!element) return null;
  const slot = document.createElement('small');
  slot.className = 'field-error';
  slot.dataset.for = name;
  const label = element.closest('label');
  if (label) label.append(slot); // under the control, inside its label (a row of labels keeps its columns)
  else element.after(slot);
  return slot;
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((slot) => { slot.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((control) => control.removeAttribute('aria-invalid'));
  const alert = form.querySelector('[role=alert]');
  if (alert) alert.textContent = '';
}

// The server's refusal shown in the form: each field's next to it, the rest (and fields it has no control for) in
// its alert.
export function showErrors(form, error) {
  clearErrors(form);
  const rest = [];
  for (const [name, text] of Object.entries(error?.fields || {})) {
    const slot = errorSlot(form, name);
    if (slot) {
      slot.textContent = text;
      form.elements.namedItem(name)?.setAttribute?.('aria-invalid', 'true');
    } else rest.push(`${name}: ${text}`);
  }
  if (!Object.keys(error?.fields || {}).length) rest.push(refusal(error));
  const alert = form.querySelector('[role=alert]');
  if (alert) alert.textContent = rest.join('; ');
  form.querySelector('[aria-invalid="true"]')?.focus();
}

// Send the form with request(values): its submit button disabled meanwhile; the result, or null once the errors
// are shown.
export async function saveForm(form, request) {
  const submit = form.querySelector('button[type=submit], button:not([type])');
  clearErrors(form);
  if (submit) submit.disabled = true;
  try {
    return await request(formValues(form));
  } catch (failure) {
    showErrors(form, failure);
    return null;
  } finally {
    if (submit) submit.disabled = false;
  }
}

// A supervisor looks and cannot change: every control of the root's forms (and every [data-edit] control) disabled,
// with a note saying so under the page's heading.
export function readOnly(root, ctx, note = 'You can look but not change this: it needs the admin role.') {
  if (ctx.canEdit()) return;
  root.querySelectorAll('form input, form select, form textarea, form button, [data-edit]')
    .forEach((control) => { control.disabled = true; });
  if (!root.querySelector(':scope > .read-only')) {
    const p = document.createElement('p');
    p.className = 'read-only';
    p.textContent = note;
    const heading = root.querySelector(':scope > h1');
    if (heading) heading.after(p);
    else root.prepend(p);
  }
}
