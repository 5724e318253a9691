/** The API as the portal calls it: the session cookie goes along, and the CSRF token on every change. */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './api-schema';

export type { paths };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null) => {
  csrfToken = token;
};

const csrf: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
};

/**
 * Typed calls, with paths, parameters, bodies and answers from the server's OpenAPI document
 * (web/src/api-schema.d.ts): `unwrap(client.GET('/v1/workspaces/{id}', { params: { path: { id } } }))`.
 */
export const client = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
client.use(csrf);

/** The answer's data, or an ApiError carrying the server's `{error: {code, message}}`. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response.status, error);
  return data as T;
}

function toApiError(status: number, body: unknown): ApiError {
  // Not Gatehouse's answer (a proxy's error page, say): report the status, not a parse error.
  const e = (body && typeof body === 'object' && 'error' in body ? (body as { error: any }).error : {}) ?? {};
  return new ApiError(status, e.code ?? 'error', e.message ?? `the server answered ${status}`, e.details);
}

/** An untyped call, for the few answers the OpenAPI document leaves open. */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) throw toApiError(res.status, json);
  return json as T;
}

export interface Me {
  user: { id: string; email: string; name: string; platform_admin: boolean; mfa_enabled: boolean; mfa_required: boolean; memberships: Array<{ workspace_id: string; role: string }> };
  csrf_token: string;
}
