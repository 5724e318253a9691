import { randomBytes } from 'node:crypto';
import type { TestApp } from './app.js';

export const PERSON_PASSWORD = 'a long enough password';

export type Role = 'admin' | 'manager' | 'member' | 'read_only';
export type SessionCall = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => Promise<{ status: number; body: any; raw: string }>;

/** A person who can sign in, made by the platform admin; placed in `workspaceId` with `role` when given. */
export async function person(t: TestApp, workspaceId?: string, role: Role = 'member') {
  const email = `p-${randomBytes(5).toString('hex')}@example.com`;
  const res = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'A Person', password: PERSON_PASSWORD });
  if (res.status !== 201) throw new Error(`user: ${res.raw}`);
  if (workspaceId) {
    const m = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/members`, { user_id: res.body.id, role });
    if (m.status !== 201) throw new Error(`member: ${m.raw}`);
  }
  return { id: res.body.id as string, email };
}

/** The portal's way of calling the API: the session cookie and its CSRF token. */
export async function signIn(t: TestApp, email: string): Promise<SessionCall> {
  const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PERSON_PASSWORD } });
  if (login.statusCode !== 200) throw new Error(`login: ${login.body}`);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  const csrf = JSON.parse(login.body).csrf_token as string;
  return async (method, url, body) => {
    const res = await t.app.inject({ method, url, headers: { cookie, 'x-csrf-token': csrf }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
  };
}
