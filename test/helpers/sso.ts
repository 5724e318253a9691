import { sql } from 'kysely';
import type { TestApp } from './app.js';
import { followRedirects, startOidcProvider, type TestProvider } from './oidc-provider.js';

/** Gatehouse's own address in HTTP-level SSO tests: the callback the provider redirects to. */
export const PUBLIC_URL = 'http://gatehouse.test';
export const CALLBACK = `${PUBLIC_URL}/v1/auth/sso/callback`;

export const startProvider = () => startOidcProvider([CALLBACK]);

/** An organization whose people of `domain` sign in through the provider. */
export async function ssoOrganization(t: TestApp, provider: TestProvider, domain: string, extra: Record<string, unknown> = {}) {
  const org = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: `org-${domain}`, plan: 'starter' });
  if (org.status !== 201) throw new Error(org.raw);
  const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${org.body.id}/sso`, {
    issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: [domain], ...extra,
  });
  if (put.status !== 200) throw new Error(put.raw);
  return { id: org.body.id as string, config: put.body };
}

const cookieOf = (setCookie: unknown, name: string) =>
  ([] as string[]).concat((setCookie as string | string[] | undefined) ?? []).map((c) => c.split(';')[0]).find((c) => c.startsWith(`${name}=`));

/** GET /v1/auth/sso/start: the provider's URL and the browser-binding cookie. */
export async function startSso(t: TestApp, email: string, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method: 'GET', url: `/v1/auth/sso/start?email=${encodeURIComponent(email)}`, headers });
  return { res, location: String(res.headers.location ?? ''), attemptCookie: cookieOf(res.headers['set-cookie'], 'gatehouse_sso') };
}

/** The callback path (with code and state) the provider sends the browser back to. */
export async function atProvider(authorizationUrl: string) {
  const url = await followRedirects(authorizationUrl, CALLBACK);
  return url.slice(PUBLIC_URL.length);
}

export async function callback(t: TestApp, path: string, cookie?: string, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method: 'GET', url: path, headers: { ...(cookie ? { cookie } : {}), ...headers } });
  let body: any;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, body, raw: res.body, location: res.headers.location, session: cookieOf(res.headers['set-cookie'], 'gatehouse_session') };
}

/** The whole sign-in: start, the provider, the callback from the same browser. */
export async function ssoSignIn(t: TestApp, email: string) {
  const started = await startSso(t, email);
  if (started.res.statusCode !== 302) throw new Error(`start: ${started.res.statusCode} ${started.res.body}`);
  return callback(t, await atProvider(started.location), started.attemptCookie);
}

export async function auditOf(t: TestApp, action: string) {
  const { rows } = await sql<{ action: string; outcome: string; resource_id: string; after: any; actor_id: string }>`
    select action, outcome, resource_id, after, actor_id from audit_log where action = ${action} order by seq`.execute(t.db.database.db);
  return rows;
}
