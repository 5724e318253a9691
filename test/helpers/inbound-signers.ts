import { createHash, createHmac, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from './app.js';

// Requests to `POST|GET /hooks/:source_id` signed the way each provider signs them, built from the
// providers' published algorithms with node:crypto (Standard Webhooks through its reference
// package). Nothing here imports the implementation: a signer that agreed with the verifier only
// because both share code would prove nothing.

export const PUBLIC_URL = 'https://hooks.example.test';

export interface HookRequest {
  method: 'POST' | 'GET';
  /** Path and query, as given to app.inject. */
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const JSON_CT = 'application/json';
const hookPath = (sourceId: string, query = '') => `/hooks/${sourceId}${query}`;
const nowS = () => Math.floor(Date.now() / 1000);
export const sha256Hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** A unique marker, to find a body (or prove it absent) wherever it might have been stored. */
export const marker = (label = 'm') => `${label}-${randomBytes(8).toString('hex')}`;

/** The same request with its body changed after signing (headers untouched). */
export function tamper(req: HookRequest, from: string | RegExp, to: string): HookRequest {
  const payload = req.payload!.replace(from, to);
  if (payload === req.payload) throw new Error('tamper: the body did not change');
  return { ...req, payload };
}
/** The same request without the named headers (case-insensitive). */
export function without(req: HookRequest, ...names: string[]): HookRequest {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  return { ...req, headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !drop.has(k.toLowerCase()))) };
}

// ---- Standard Webhooks ---------------------------------------------------------------------

export function standardRequest(o: { sourceId: string; secret: string | string[]; body: string; msgId?: string; at?: Date; contentType?: string }): HookRequest {
  const msgId = o.msgId ?? `msg_${randomBytes(10).toString('hex')}`;
  const at = o.at ?? new Date();
  const secrets = Array.isArray(o.secret) ? o.secret : [o.secret];
  const signature = secrets.map((s) => new StandardWebhook(s).sign(msgId, at, o.body)).join(' ');
  return {
    method: 'POST',
    url: hookPath(o.sourceId),
    headers: {
      'content-type': o.contentType ?? JSON_CT,
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
    payload: o.body,
  };
}

// ---- generic HMAC --------------------------------------------------------------------------

export interface HmacSettings {
  header?: string;
  prefix?: string;
  algorithm?: 'sha256' | 'sha1' | 'sha512';
  encoding?: 'hex' | 'base64';
}
export function hmacRequest(o: { sourceId: string; secret: string; body: string; contentType?: string } & HmacSettings): HookRequest {
  const digest = createHmac(o.algorithm ?? 'sha256', o.secret).update(o.body, 'utf8').digest(o.encoding ?? 'hex');
  return {
    method: 'POST',
    url: hookPath(o.sourceId),
    headers: { 'content-type': o.contentType ?? JSON_CT, [(o.header ?? 'x-signature').toLowerCase()]: `${o.prefix ?? ''}${digest}` },
    payload: o.body,
  };
}

// ---- Twilio --------------------------------------------------------------------------------

/** base64 HMAC-SHA1(auth token, url + each param name+value sorted by name). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

export function twilioFormRequest(o: {
  sourceId: string;
  authToken: string;
  params: Record<string, string>;
  /** Extra query, starting with '?'. */
  query?: string;
  idempotencyToken?: string;
  publicUrl?: string;
}): HookRequest {
  const path = hookPath(o.sourceId, o.query ?? '');
  const signature = twilioSignature(o.authToken, `${o.publicUrl ?? PUBLIC_URL}${path}`, o.params);
  return {
    method: 'POST',
    url: path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
      ...(o.idempotencyToken ? { 'i-twilio-idempotency-token': o.idempotencyToken } : {}),
    },
    payload: new URLSearchParams(o.params).toString(),
  };
}

/** JSON bodies: the URL carries bodySHA256 (hex SHA-256 of the body); the signature covers the URL only. */
export function twilioJsonRequest(o: { sourceId: string; authToken: string; body: string; idempotencyToken?: string; publicUrl?: string; bodySha256?: string }): HookRequest {
  const path = hookPath(o.sourceId, `?bodySHA256=${o.bodySha256 ?? sha256Hex(o.body)}`);
  return {
    method: 'POST',
    url: path,
    headers: {
      'content-type': JSON_CT,
      'x-twilio-signature': twilioSignature(o.authToken, `${o.publicUrl ?? PUBLIC_URL}${path}`),
      ...(o.idempotencyToken ? { 'i-twilio-idempotency-token': o.idempotencyToken } : {}),
    },
    payload: o.body,
  };
}

// ---- Meta (WhatsApp Cloud API) -------------------------------------------------------------

export function metaRequest(o: { sourceId: string; appSecret: string; body: string }): HookRequest {
  const sig = createHmac('sha256', o.appSecret).update(Buffer.from(o.body, 'utf8')).digest('hex');
  return { method: 'POST', url: hookPath(o.sourceId), headers: { 'content-type': JSON_CT, 'x-hub-signature-256': `sha256=${sig}` }, payload: o.body };
}

export function metaHandshake(o: { sourceId: string; verifyToken: string; challenge: string; mode?: string }): HookRequest {
  const q = new URLSearchParams({ 'hub.mode': o.mode ?? 'subscribe', 'hub.verify_token': o.verifyToken, 'hub.challenge': o.challenge });
  return { method: 'GET', url: hookPath(o.sourceId, `?${q.toString()}`), headers: {} };
}

// ---- Vonage signed JWT ---------------------------------------------------------------------

export function vonageJwt(o: { secret: string; body: string; apiKey?: string; iat?: number; jti?: string; payloadHash?: string }): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(
    JSON.stringify({
      iat: o.iat ?? nowS(),
      jti: o.jti ?? randomBytes(16).toString('hex'),
      payload_hash: o.payloadHash ?? sha256Hex(o.body),
      api_key: o.apiKey ?? 'abcd1234',
    }),
  );
  const sig = createHmac('sha256', o.secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${sig}`;
}
export function vonageRequest(o: { sourceId: string; secret: string; body: string; iat?: number; jti?: string; payloadHash?: string }): HookRequest {
  return { method: 'POST', url: hookPath(o.sourceId), headers: { 'content-type': JSON_CT, authorization: `Bearer ${vonageJwt(o)}` }, payload: o.body };
}

// ---- Vapi ----------------------------------------------------------------------------------

export function vapiSecretRequest(o: { sourceId: string; secret: string; body: string; via?: 'x-vapi-secret' | 'bearer' }): HookRequest {
  const auth: Record<string, string> = o.via === 'bearer' ? { authorization: `Bearer ${o.secret}` } : { 'x-vapi-secret': o.secret };
  return { method: 'POST', url: hookPath(o.sourceId), headers: { 'content-type': JSON_CT, ...auth }, payload: o.body };
}
/** x-timestamp + x-signature = hex HMAC-SHA256(secret, `${timestamp}.${body}`); timestamp in seconds unless given. */
export function vapiHmacRequest(o: { sourceId: string; secret: string; body: string; timestamp?: string | number }): HookRequest {
  const ts = String(o.timestamp ?? nowS());
  const sig = createHmac('sha256', o.secret).update(`${ts}.${o.body}`, 'utf8').digest('hex');
  return { method: 'POST', url: hookPath(o.sourceId), headers: { 'content-type': JSON_CT, 'x-timestamp': ts, 'x-signature': sig }, payload: o.body };
}

// ---- unsigned (emailbison, http) -----------------------------------------------------------

export function unsignedRequest(o: { sourceId: string; body: string; token?: string; via?: 'header' | 'query'; contentType?: string }): HookRequest {
  const viaQuery = o.token !== undefined && o.via === 'query';
  return {
    method: 'POST',
    url: hookPath(o.sourceId, viaQuery ? `?token=${encodeURIComponent(o.token!)}` : ''),
    headers: { 'content-type': o.contentType ?? JSON_CT, ...(o.token !== undefined && !viaQuery ? { 'x-gatehouse-token': o.token } : {}) },
    payload: o.body,
  };
}

// ---- plumbing shared by the inbound tests --------------------------------------------------

export interface Res {
  status: number;
  body: any;
  headers: Record<string, unknown>;
  raw: string;
}

/**
 * The API and the receiver as the inbound tests use them. Every response is kept (`seen`), except
 * the one-time reveals (creation, rotation), so a test can prove no secret ever came back.
 */
export function inboundHarness(t: TestApp) {
  const seen: Array<{ what: string; raw: string; headers: string }> = [];
  const keep = (what: string, r: Res) => seen.push({ what, raw: r.raw, headers: JSON.stringify(r.headers) });

  async function api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, opts: { reveal?: boolean } = {}): Promise<Res> {
    const r = await t.call(t.adminKey, method, url, body);
    if (!opts.reveal) keep(`${method} ${url}`, r);
    return r;
  }
  async function createSource(wsId: string, spec: Record<string, unknown>) {
    const r = await api('POST', `/v1/workspaces/${wsId}/inbound-sources`, spec, { reveal: true });
    if (r.status !== 201) throw new Error(`create source failed (${r.status}): ${r.raw}`);
    return r;
  }
  async function hook(req: HookRequest): Promise<Res> {
    const res = await t.app.inject({ method: req.method, url: req.url, headers: req.headers, ...(req.payload === undefined ? {} : { payload: req.payload }) });
    let body: unknown;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = res.body;
    }
    const r = { status: res.statusCode, body, headers: res.headers as Record<string, unknown>, raw: res.body };
    keep(`${req.method} ${req.url}`, r);
    return r;
  }
  async function events(wsId: string, sourceId: string): Promise<any[]> {
    const r = await api('GET', `/v1/workspaces/${wsId}/inbound-events?source_id=${sourceId}&limit=100`);
    if (r.status !== 200) throw new Error(`list inbound events failed (${r.status}): ${r.raw}`);
    return r.body.data;
  }
  async function event(id: string) {
    const r = await api('GET', `/v1/inbound-events/${id}`);
    if (r.status !== 200) throw new Error(`get inbound event failed (${r.status}): ${r.raw}`);
    return r.body;
  }
  async function health(sourceId: string) {
    const r = await api('GET', `/v1/inbound-sources/${sourceId}/health`);
    if (r.status !== 200) throw new Error(`health failed (${r.status}): ${r.raw}`);
    return r.body;
  }
  /** Where each secret shows up: kept responses (body and headers) and the app's log lines. */
  function leaks(secrets: string[]) {
    const found: string[] = [];
    for (const s of secrets) {
      for (const r of seen) if (r.raw.includes(s) || r.headers.includes(s)) found.push(`${s.slice(0, 6)}… in response to ${r.what}`);
      for (const line of t.logs) if (line.includes(s)) found.push(`${s.slice(0, 6)}… in log line ${line.slice(0, 300)}`);
    }
    return found;
  }
  /** Tables (public schema) holding `text` anywhere in a row, bytea read as UTF-8. */
  async function tablesContaining(text: string): Promise<string[]> {
    const db = t.services.database.db;
    const { rows: tables } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(db);
    const hits: string[] = [];
    for (const { name } of tables) {
      const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
      const asText = JSON.stringify(rows, (_k, v) =>
        v && typeof v === 'object' && (v.type === 'Buffer' || v instanceof Uint8Array) ? Buffer.from(v.data ?? v).toString('utf8') : v,
      );
      if (asText.includes(text)) hits.push(name);
    }
    return hits;
  }
  /** The secrets met so far (given, or revealed once): none may show up anywhere else. */
  const secrets: string[] = [];
  /** A source in `wsId`; a secret we gave is the one to look for (views show it masked), one Gatehouse picked is revealed here, once. */
  async function source(wsId: string, spec: Record<string, unknown>) {
    const r = await createSource(wsId, spec);
    for (const k of ['secret', 'verify_token']) {
      const v = typeof spec[k] === 'string' ? spec[k] : r.body[k];
      if (typeof v === 'string') secrets.push(v);
    }
    return r.body as { id: string; secret?: string; verify_token?: string };
  }
  return { api, createSource, source, secrets, hook, events, event, health, leaks, tablesContaining, seen };
}
export type InboundHarness = ReturnType<typeof inboundHarness>;

// A test file's app (public URL set), harness and workspace: live bindings, set before its tests
// (vitest gives each test file its own copy of this module).
export let t: TestApp;
export let h: InboundHarness;
export let ws: { id: string };
export function useInboundApp() {
  beforeAll(async () => {
    t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL });
    h = inboundHarness(t);
    ws = (await seedWorkspace(t)).workspace;
  });
  afterAll(() => t?.close());
}
/** A source in the file's workspace. */
export const source = (spec: Record<string, unknown>) => h.source(ws.id, spec);

/** A 401 unauthenticated, with `reason` (exact or matching) when given. */
export function expectRejected(res: Res, reason?: string | RegExp) {
  expect(res.status, res.raw).toBe(401);
  expect(res.body.error.code).toBe('unauthenticated');
  if (typeof reason === 'string') expect(res.body.error.details?.reason).toBe(reason);
  else if (reason) expect(res.body.error.details?.reason).toMatch(reason);
}

/** Health's rejections_by_reason as a {reason: count} map, whether it is served as a map or a list. */
export function byReason(h: { rejections_by_reason: unknown }): Record<string, number> {
  const r = h.rejections_by_reason;
  if (Array.isArray(r)) return Object.fromEntries(r.map((x: { reason: string; count: number }) => [x.reason, Number(x.count)]));
  return Object.fromEntries(Object.entries((r ?? {}) as Record<string, unknown>).map(([k, v]) => [k, Number(v)]));
}

/** A JSON body with a unique marker in it. */
export const jsonBody = (extra: Record<string, unknown> = {}) => {
  const m = marker();
  return { m, body: JSON.stringify({ type: 'lead.replied', marker: m, ...extra }) };
};
