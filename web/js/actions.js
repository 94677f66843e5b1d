// The areas' actions as tables. Each area declares once what its clicks, forms, fields and keys do, as
// {name: handler}, and listens once per kind of event on its root with listen(); no area compares action names.
// What an action fails to do is said in the notice, unless the action says it itself (under a field, in a thread).

import { refusal } from './api.js';
import { say } from './store.js';

// One listener on root for events of this type: key(event) names the table's entry and gives its arguments.
export function listen(root, type, table, key) {
  root.addEventListener(type, (event) => {
    const [name, ...args] = key(event) || [];
    if (name !== undefined && Object.hasOwn(table, name)) attempt(table[name], args);
  });
}

async function attempt(handler, args) {
  try {
    await handler(...args);
  } catch (failure) {
    say(refusal(failure));
  }
}

// A click on an element with data-action="name" (or inside one): its data-* values, and the element.
export function byAction(event) {
  const element = event.target.closest('[data-action]');
  return element && [element.dataset.action, element.dataset, element];
}

// A form submitted, by its id; the page is never left (everything goes over the API).
export function byForm(event) {
  event.preventDefault();
  return [event.target.id, event.target];
}

// A field typed in or changed, by its name (or its id).
export function byField(event) {
  return [event.target.name || event.target.id, event.target];
}

// A key, with Ctrl (or a Mac's Cmd) when held: 'Escape', 'Enter', 'Space', 'Ctrl+Enter'.
export function byKey(event) {
  const key = event.key === ' ' ? 'Space' : event.key;
  return [(event.ctrlKey || event.metaKey ? 'Ctrl+' : '') + key, event];
}
