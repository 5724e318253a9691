/** The API as the portal calls it: the session cookie goes along, and the CSRF token on every change. */
import createClient, { type Middleware } from 'openapi-fetch';
// The SDK's generated types and error model: one copy for both.
import { ApiError, apiErrorOf, unwrap } from '../../sdk/src/errors';
import type { paths } from '../../sdk/src/schema';

export type { paths };
export { ApiError, unwrap };

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
 * (sdk/src/schema.ts): `unwrap(client.GET('/v1/workspaces/{id}', { params: { path: { id } } }))`.
 */
export const client = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
client.use(csrf);

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
  if (!res.ok) throw apiErrorOf(res.status, json);
  return json as T;
}

export interface Me {
  user: { id: string; email: string; name: string; platform_admin: boolean; mfa_enabled: boolean; mfa_required: boolean; memberships: Array<{ workspace_id: string; role: string }>;
    /** Their organization roles (owner, admin, member, read_only); their workspaces inherit them. */
    organizations: Array<{ organization_id: string; role: string }> };
  csrf_token: string;
}
