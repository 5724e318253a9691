import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import secureJsonParse from 'secure-json-parse';
import { clientIp, type ProxyTrust } from '../../http/client-ip.js';
import { errorBody, isDatabaseUnavailable, MESSAGES } from '../../http/errors.js';
import { API_HEADERS, requestIdOf } from '../../http/request-id.js';
import { createAjv, validationIssues } from '../../http/validation.js';
import type { Metrics } from '../../lib/metrics.js';
import type { KeyVerifier } from './verify.js';
import { VERIFY_PATH, VerifyBody, verificationIp, verificationText, type VerificationAddress } from './verify-http.js';

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
      send(res, requestId, started, 400, errorBody('validation_failed', message, requestId, details));
    let body: unknown;
    try {
      body = secureJsonParse(raw, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      return fail(INVALID_JSON);
    }
    if (!validate(body)) return fail(MESSAGES.invalidSchema, { issues: validationIssues(validate.errors ?? [], 'body') });
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
      return send(res, requestId, started, 503, errorBody('unavailable', MESSAGES.unavailable, requestId));
    }
    log.error({ err, req_id: requestId }, 'unhandled error');
    send(res, requestId, started, 500, errorBody('internal', MESSAGES.internal, requestId));
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
