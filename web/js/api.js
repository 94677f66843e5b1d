// The REST API: JSON in and out, the session's CSRF token on every unsafe request, errors as ApiError.

import { state } from './store.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.error = body.error || 'http-error';
    this.fields = body.fields || {};
  }
}

// ``body``: an object sent as JSON, or a Blob sent as it is (its type as Content-Type), e.g. a greeting.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = state.session?.csrf_token ?? '';
  const raw = body instanceof Blob;
  if (body !== undefined) headers['Content-Type'] = raw ? body.type : 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined || raw ? body : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Why a request failed, in words for the agent: what the server says is wrong with the fields sent ("not an email
// address"), its message, or that it could not be reached.
export function refusal(failure) {
  const said = Object.values(failure.fields || {});
  if (said.length) return said.join('; ');
  return failure instanceof ApiError ? failure.message : 'the server could not be reached; try again';
}
