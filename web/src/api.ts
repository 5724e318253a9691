/** The API as the portal calls it: the session cookie goes along, and the CSRF token on every change. */
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

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not Gatehouse's answer (a proxy's error page, say): report the status, not a parse error.
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error ?? {};
    throw new ApiError(res.status, e.code ?? 'error', e.message ?? `the server answered ${res.status}`, e.details);
  }
  return json as T;
}

export interface Me {
  user: { id: string; email: string; name: string; platform_admin: boolean; mfa_enabled: boolean; mfa_required: boolean; memberships: Array<{ workspace_id: string; role: string }> };
  csrf_token: string;
}
