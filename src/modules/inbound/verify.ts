import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { safeEqual } from '../../lib/safe-equal.js';
import { SECRET_PREFIX } from '../webhooks/signing.js';

/** How a source's requests prove where they come from. */
export type Scheme = 'standard' | 'hmac' | 'twilio' | 'meta' | 'vonage_jwt' | 'vapi' | 'unsigned';

export type RejectReason =
  | 'missing_signature'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'missing_token'
  | 'bad_token'
  | 'workspace_mismatch'
  | 'body_hash_mismatch';

export interface HmacSettings {
  header: string;
  prefix: string;
  encoding: 'hex' | 'base64';
  algorithm: 'sha256' | 'sha1' | 'sha512';
}

export interface SourceSettings {
  tolerance_s?: number;
  hmac?: Partial<HmacSettings>;
  provider_workspace_id?: string;
}

export interface InboundRequest {
  /** Path and query exactly as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  contentType: string;
}

export interface VerifyContext {
  /** Accepted secrets, current first (the previous one while its overlap lasts). */
  secrets: readonly string[];
  settings: SourceSettings;
  /** Gatehouse's public base URL: what a provider that signs the URL (Twilio) called. */
  publicUrl: string;
  defaultToleranceS: number;
  now?: number;
}

export type Verdict =
  | { ok: true; signature: 'verified' | 'token' | 'unsigned'; dedupKey: string }
  | { ok: false; reason: RejectReason };

const reject = (reason: RejectReason): Verdict => ({ ok: false, reason });
const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hmac = (algorithm: string, key: string | Buffer, ...parts: Array<string | Buffer>) => {
  const h = createHmac(algorithm, key);
  for (const p of parts) h.update(p);
  return h.digest();
};

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v || undefined;
};

/** The same body (a provider's retry of an event without an id of its own) de-duplicates by hash. */
export const bodyKey = (body: Buffer) => `sha256:${sha256hex(body)}`;

function withinTolerance(timestampS: number, ctx: VerifyContext): boolean {
  const tolerance = ctx.settings.tolerance_s ?? ctx.defaultToleranceS;
  return Number.isFinite(timestampS) && Math.abs((ctx.now ?? Date.now()) / 1000 - timestampS) <= tolerance;
}

function standard(req: InboundRequest, ctx: VerifyContext): Verdict {
  const id = header(req.headers, 'webhook-id');
  const ts = header(req.headers, 'webhook-timestamp');
  const sigs = header(req.headers, 'webhook-signature');
  if (!id || !ts || !sigs) return reject('missing_signature');
  if (!/^\d{1,12}$/.test(ts) || !withinTolerance(Number(ts), ctx)) return reject('stale_timestamp');
  const offered = sigs.split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
  for (const secret of ctx.secrets) {
    const key = secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret);
    const expected = hmac('sha256', key, `${id}.${ts}.`, req.body).toString('base64');
    if (offered.some((o) => safeEqual(o, expected))) return { ok: true, signature: 'verified', dedupKey: `id:${id}` };
  }
  return reject('bad_signature');
}

/** Twilio signs the URL it called; behind a proxy the port may or may not be part of it. */
function urlVariants(url: string): string[] {
  const u = new URL(url);
  const variants = [u.toString()];
  if (u.port) {
    u.port = '';
    variants.push(u.toString());
  } else {
    u.port = u.protocol === 'https:' ? '443' : '80';
    // URL drops a default port, so the string is built by hand.
    variants.push(u.toString().replace(u.host, `${u.hostname}:${u.protocol === 'https:' ? 443 : 80}`));
  }
  return variants;
}

function twilio(req: InboundRequest, ctx: VerifyContext): Verdict {
  const signature = header(req.headers, 'x-twilio-signature');
  if (!signature) return reject('missing_signature');
  const url = ctx.publicUrl + req.url;
  let data = '';
  if (req.contentType === 'application/json') {
    const claimed = new URL(url).searchParams.get('bodySHA256');
    if (!claimed || !safeEqual(claimed.toLowerCase(), sha256hex(req.body))) return reject('body_hash_mismatch');
  } else {
    const params = [...new URLSearchParams(req.body.toString('utf8'))];
    params.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
    data = params.map(([k, v]) => k + v).join('');
  }
  for (const secret of ctx.secrets) {
    for (const candidate of urlVariants(url)) {
      const expected = hmac('sha1', secret, candidate, data).toString('base64');
      // Keyed by exactly the bytes signed (URL, then the sorted parameters), never by the
      // I-Twilio-Idempotency-Token header: nothing signs it, so a replay could change it at will.
      // A retry of one delivery carries the same URL and parameters, so it still meets its first copy.
      if (safeEqual(signature, expected)) return { ok: true, signature: 'verified', dedupKey: `signed:${sha256hex(candidate + data)}` };
    }
  }
  return reject('bad_signature');
}

function meta(req: InboundRequest, ctx: VerifyContext): Verdict {
  const signature = header(req.headers, 'x-hub-signature-256');
  if (!signature) return reject('missing_signature');
  for (const secret of ctx.secrets) {
    const expected = 'sha256=' + hmac('sha256', secret, req.body).toString('hex');
    if (safeEqual(signature.toLowerCase(), expected)) return { ok: true, signature: 'verified', dedupKey: bodyKey(req.body) };
  }
  return reject('bad_signature');
}

async function vonage(req: InboundRequest, ctx: VerifyContext): Promise<Verdict> {
  const auth = header(req.headers, 'authorization');
  if (!auth?.toLowerCase().startsWith('bearer ')) return reject('missing_signature');
  const token = auth.slice(7).trim();
  for (const secret of ctx.secrets) {
    let claims: Record<string, unknown>;
    try {
      claims = (await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] })).payload;
    } catch (err) {
      // jose checks exp/nbf itself; an expired token is stale, anything else is a bad signature.
      if (err instanceof joseErrors.JWTExpired) return reject('stale_timestamp');
      continue;
    }
    if (typeof claims.iat !== 'number' || !withinTolerance(claims.iat, ctx)) return reject('stale_timestamp');
    if (typeof claims.payload_hash !== 'string' || !safeEqual(claims.payload_hash.toLowerCase(), sha256hex(req.body))) return reject('body_hash_mismatch');
    return { ok: true, signature: 'verified', dedupKey: bodyKey(req.body) };
  }
  return reject('bad_signature');
}

function vapi(req: InboundRequest, ctx: VerifyContext): Verdict {
  const signature = header(req.headers, 'x-signature');
  const timestamp = header(req.headers, 'x-timestamp');
  const plain = header(req.headers, 'x-vapi-secret') ?? header(req.headers, 'authorization')?.replace(/^bearer\s+/i, '');
  const ok: Verdict = { ok: true, signature: 'verified', dedupKey: bodyKey(req.body) };
  if (signature && timestamp) {
    // Seconds or milliseconds: the unit is not documented, and either reads unambiguously.
    const ts = Number(timestamp);
    if (!withinTolerance(ts > 1e12 ? ts / 1000 : ts, ctx)) return reject('stale_timestamp');
    const given = signature.replace(/^sha256=/i, '').toLowerCase();
    return ctx.secrets.some((s) => safeEqual(given, hmac('sha256', s, `${timestamp}.`, req.body).toString('hex'))) ? ok : reject('bad_signature');
  }
  if (!plain) return reject('missing_signature');
  return ctx.secrets.some((s) => safeEqual(plain, s)) ? ok : reject('bad_signature');
}

export const HMAC_DEFAULTS: HmacSettings = { header: 'x-signature', prefix: '', encoding: 'hex', algorithm: 'sha256' };

function generic(req: InboundRequest, ctx: VerifyContext): Verdict {
  const s = { ...HMAC_DEFAULTS, ...ctx.settings.hmac };
  const value = header(req.headers, s.header.toLowerCase());
  if (!value) return reject('missing_signature');
  if (!value.startsWith(s.prefix)) return reject('bad_signature');
  const given = value.slice(s.prefix.length);
  for (const secret of ctx.secrets) {
    const expected = hmac(s.algorithm, secret, req.body).toString(s.encoding);
    if (safeEqual(s.encoding === 'hex' ? given.toLowerCase() : given, expected)) return { ok: true, signature: 'verified', dedupKey: bodyKey(req.body) };
  }
  return reject('bad_signature');
}

/** Unsigned providers: the unguessable URL, plus the shared token when the source has one. */
function unsigned(req: InboundRequest, ctx: VerifyContext): Verdict {
  if (ctx.secrets.length === 0) return { ok: true, signature: 'unsigned', dedupKey: bodyKey(req.body) };
  const token = header(req.headers, 'x-gatehouse-token') ?? new URL(req.url, 'http://x').searchParams.get('token') ?? undefined;
  if (!token) return reject('missing_token');
  return ctx.secrets.some((s) => safeEqual(token, s)) ? { ok: true, signature: 'token', dedupKey: bodyKey(req.body) } : reject('bad_token');
}

const VERIFIERS: Record<Scheme, (req: InboundRequest, ctx: VerifyContext) => Verdict | Promise<Verdict>> = {
  standard,
  hmac: generic,
  twilio,
  meta,
  vonage_jwt: vonage,
  vapi,
  unsigned,
};

export const verify = (scheme: Scheme, req: InboundRequest, ctx: VerifyContext) => VERIFIERS[scheme](req, ctx);

/** Meta's subscription handshake: the challenge back when the verify token matches. */
export function metaHandshake(query: URLSearchParams, verifyToken: string | null): string | null {
  const challenge = query.get('hub.challenge');
  const token = query.get('hub.verify_token');
  if (query.get('hub.mode') !== 'subscribe' || challenge === null || token === null || verifyToken === null) return null;
  return safeEqual(token, verifyToken) ? challenge : null;
}
