import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import secureJsonParse from 'secure-json-parse';
import { isDatabaseUnavailable } from '../../http/errors.js';
import { Type, type Static } from 'typebox';
import { clientIp, type ProxyTrust } from '../../http/client-ip.js';
import { API_HEADERS, requestIdOf } from '../../http/request-id.js';
import { createAjv, validationIssues } from '../../http/validation.js';
import type { Metrics } from '../../lib/metrics.js';
import type { KeyVerifier, Verification, VerifyOptions } from './verify.js';

export const VERIFY_PATH = '/v1/keys/verify';

export const VerifyBody = Type.Object({
  key: Type.String({ maxLength: 512 }),
  scope: Type.Optional(Type.String({ maxLength: 64 })),
  ip: Type.Optional(Type.String({
    maxLength: 64,
    description: "the end client's address, checked against the key's IP allow-list; it counts only when the caller sends `Authorization: Bearer` with a key holding `keys:verify`, otherwise the caller's own address is used",
  })),
}, { additionalProperties: false });

export const VerifyResponse = Type.Object({
  valid: Type.Boolean(),
  code: Type.String(),
  key_id: Type.Optional(Type.String()),
  workspace_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  scopes: Type.Optional(Type.Array(Type.String())),
  ratelimit: Type.Optional(Type.Object({ limit: Type.Integer(), remaining: Type.Integer(), reset: Type.Integer() })),
});

/** The answer to a verification, the same from the route and from the fast path. */
export function verificationBody(result: Verification): Static<typeof VerifyResponse> {
  if (result.code !== 'valid') return { valid: false, code: result.code };
  const { key, ratelimit } = result;
  return {
    valid: true,
    code: 'valid',
    key_id: key.id,
    workspace_id: key.workspaceId,
    scopes: [...key.scopes],
    ...(ratelimit ? { ratelimit: { limit: ratelimit.limit, remaining: ratelimit.remaining, reset: ratelimit.reset } } : {}),
  };
}

/** The scope of a verifier: a service allowed to say which address the key it checks is used from. */
export const VERIFIER_SCOPE = 'keys:verify';
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** What a verification judges a key's allow-list by: the caller's own address, and the one a verifier names. */
export type VerificationAddress = Pick<VerifyOptions, 'ip' | 'vouched'>;

/**
 * The address a verification judges the key's allow-list against: the body's `ip` only when the
 * caller authenticates as a verifier (and then only for keys of the verifier's workspace), else the
 * caller's own (through the trusted proxies). Costs nothing without an `ip`, and a cached lookup
 * with one; a promise only when that lookup needs one.
 */
export function verificationIp(verifier: KeyVerifier, bodyIp: string | undefined, authorization: string | undefined, connectionIp: string): VerificationAddress | Promise<VerificationAddress> {
  const own = { ip: connectionIp };
  if (bodyIp === undefined) return own;
  const token = authorization && BEARER.exec(authorization)?.[1];
  if (!token) return own;
  const opts = { scope: VERIFIER_SCOPE, ip: connectionIp };
  const vouch = (result: Verification): VerificationAddress =>
    result.code === 'valid' ? { ip: connectionIp, vouched: { ip: bodyIp, workspaceId: result.key.platformAdmin ? null : result.key.workspaceId } } : own;
  const cached = verifier.verifyCached(token, opts);
  if (cached) return vouch(cached);
  return verifier.verify(token, opts).then(vouch);
}

// A valid key's answer is the same but for the rate-limit figures, so its JSON is built once per
// cached key (a cached key is never changed in place: a new one replaces it) and the figures are
// appended; JSON.stringify of the whole object on every request cost about a microsecond.
const validPrefixes = new WeakMap<object, string>();

/** `JSON.stringify(verificationBody(result))`, byte for byte. */
export function verificationText(result: Verification): string {
  if (result.code !== 'valid') return JSON.stringify(verificationBody(result));
  const key = result.key;
  let prefix = validPrefixes.get(key);
  if (prefix === undefined) {
    prefix = JSON.stringify(verificationBody({ code: 'valid', key })).slice(0, -1);
    validPrefixes.set(key, prefix);
  }
  const rl = result.ratelimit;
  return rl ? `${prefix},"ratelimit":{"limit":${rl.limit},"remaining":${rl.remaining},"reset":${rl.reset}}}` : `${prefix}}`;
}

// Bodies the fast path reads itself; anything larger, chunked or otherwise unusual goes to Fastify.
const MAX_FAST_BODY = 4096;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
const INVALID_JSON = "Body is not valid JSON but content-type is set to 'application/json'";

interface Deps {
  verifier: KeyVerifier;
  log: Logger;
  metrics: Metrics;
  /** Whose X-Forwarded-For to believe: the very rule Fastify's trustProxy is given. */
  trust: ProxyTrust | undefined;
  /** True once the server is closing: requests then go to Fastify, which answers 503. */
  closing: () => boolean;
}

/**
 * POST /v1/keys/verify without the framework's per-request machinery (child logger, hooks, reply
 * object): the route every service calls on every request it serves, so its cost is theirs. It
 * answers exactly as the Fastify route does (the same validator, the same body builder, the same
 * error shape, request id and metrics; a test compares both), and declines anything it does not
 * fully handle (other content types, chunked or large bodies, a closing server) before reading a
 * byte, leaving it to the Fastify route, which stays the documented one.
 */
export function createVerifyFastPath({ verifier, log, metrics, trust, closing }: Deps) {
  const validate = createAjv(false).compile(VerifyBody);

  function send(res: ServerResponse, requestId: string, started: number, status: number, body: unknown): undefined {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-request-id': requestId, ...API_HEADERS });
    res.end(text);
    metrics.httpDuration.observe({ method: 'POST', route: VERIFY_PATH, status: String(status) }, (performance.now() - started) / 1000);
  }

  /** Answers at once when the key cache decides; returns a promise only when a lookup or counter is needed. */
  function answer(req: IncomingMessage, res: ServerResponse, requestId: string, started: number, raw: Buffer): Promise<void> | undefined {
    const fail = (message: string, details?: unknown) =>
      send(res, requestId, started, 400, { error: { code: 'validation_failed', message, ...(details ? { details } : {}), request_id: requestId } });
    let body: unknown;
    try {
      body = secureJsonParse(raw, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      return fail(INVALID_JSON);
    }
    if (!validate(body)) return fail('the request does not match the schema', { issues: validationIssues(validate.errors ?? [], 'body') });
    const address = verificationIp(verifier, body.ip, req.headers.authorization, clientIp(req, trust));
    if (address instanceof Promise) return address.then((a) => check(res, requestId, started, body.key, body.scope, a));
    return check(res, requestId, started, body.key, body.scope, address);
  }

  function check(res: ServerResponse, requestId: string, started: number, key: string, scope: string | undefined, address: VerificationAddress): Promise<void> | undefined {
    const opts = { scope, ip: address.ip, vouched: address.vouched };
    const cached = verifier.verifyCached(key, opts);
    if (cached) return send(res, requestId, started, 200, verificationText(cached));
    return verifier.verify(key, opts).then((result) => send(res, requestId, started, 200, verificationText(result)));
  }

  function failed(res: ServerResponse, requestId: string, started: number, err: unknown) {
    if (res.headersSent) return;
    if (isDatabaseUnavailable(err)) {
      res.setHeader('retry-after', '5');
      return send(res, requestId, started, 503, { error: { code: 'unavailable', message: 'the database is unreachable; retry shortly', request_id: requestId } });
    }
    log.error({ err, req_id: requestId }, 'unhandled error');
    send(res, requestId, started, 500, { error: { code: 'internal', message: 'an internal error occurred; the request id identifies it in the logs', request_id: requestId } });
  }

  /** Takes the request and returns true, or returns false having touched nothing. */
  return function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || req.url !== VERIFY_PATH || closing()) return false;
    const type = req.headers['content-type'];
    const length = Number(req.headers['content-length']);
    if (!type || !JSON_TYPE.test(type) || !(length > 0 && length <= MAX_FAST_BODY) || req.headers['transfer-encoding']) return false;
    const started = performance.now();
    const requestId = requestIdOf(req);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        answer(req, res, requestId, started, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))?.catch((err) => failed(res, requestId, started, err));
      } catch (err) {
        failed(res, requestId, started, err);
      }
    });
    return true;
  };
}
