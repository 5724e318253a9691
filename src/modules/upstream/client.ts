import { Agent, request, type Dispatcher } from 'undici';
import { backoffDelayMs, exponential } from '../../lib/backoff.js';
import { AppError, invalid } from '../../lib/errors.js';
import { assertPublicUrl, guardedLookup } from '../../lib/ssrf.js';
import type { OutgoingRequest } from '../providers/types.js';
import type { WorkspaceCredential } from '../vault/service.js';
import type { Breakers } from './breaker.js';

export type Trigger = 'api' | 'job' | 'portal' | 'test' | 'monitor' | 'sync';

export interface UpstreamRequest {
  method: string;
  /** Relative to the credential's base URL; may not leave it. */
  path: string;
  query?: Record<string, string | number | boolean | Array<string | number>>;
  body?: unknown;
}

export interface UpstreamResult {
  /** null when no response came back (network error, timeout, refused target). */
  status: number | null;
  headers: Record<string, string>;
  body: unknown;
  durationMs: number;
  attempts: number;
  error?: string;
}

/** What one finished call reports to the call log and health (wired in by the upstream service). */
export interface CallRecord {
  credential: WorkspaceCredential;
  request: UpstreamRequest;
  result: UpstreamResult;
  caller: string;
  trigger: Trigger;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const MAX_BODY = 5 * 1024 * 1024;
const MAX_RETRIES = 2;
const MAX_RETRY_AFTER_MS = 10_000;
/** 400 ms then 800 ms, each ±50%: short, since a caller waits on the answer (MAX_RETRIES bounds it below the cap). */
export const UPSTREAM_RETRY_BACKOFF = exponential({ firstMs: 400, capMs: MAX_RETRY_AFTER_MS, jitter: { spread: 0.5 } });

/** Retry-After in seconds or as an HTTP date; bounded so one call cannot hang a request for minutes. */
export function retryAfterMs(header: string | undefined, attempt: number): number {
  if (header) {
    const seconds = Number(header);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
  }
  return backoffDelayMs(UPSTREAM_RETRY_BACKOFF, attempt);
}

/** Builds the URL under the credential's base; a path that climbs out of it is refused. */
export function buildUrl(base: string, req: UpstreamRequest): URL {
  if (!req.path.startsWith('/') || req.path.startsWith('//') || /(^|\/)\.\.?(\/|$)|%2e%2e|[\\\r\n]/i.test(req.path)) {
    throw invalid('path must be an absolute path under the credential base URL, without dot segments', { field: 'path' });
  }
  const baseUrl = new URL(base.replace(/\/+$/, ''));
  const url = new URL(baseUrl.href.replace(/\/+$/, '') + req.path);
  if (url.origin !== baseUrl.origin) throw invalid('path must stay on the credential base URL', { field: 'path' });
  for (const [k, v] of Object.entries(req.query ?? {})) {
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  return url;
}

/**
 * The one HTTP client for every upstream call: signs with the workspace's own credential, applies a
 * timeout, retries idempotent requests on 5xx/429 (honouring Retry-After), and reports each call.
 */
export function createUpstreamClient({
  timeoutMs,
  allowPrivateTargets,
  onCall,
  breakers,
}: {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  onCall: (record: CallRecord) => Promise<void>;
  breakers: Breakers;
}) {
  const agent = new Agent({
    connections: 64,
    keepAliveTimeout: 10_000,
    connect: { lookup: guardedLookup(allowPrivateTargets) },
  });

  async function attempt(out: OutgoingRequest): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
    const res: Dispatcher.ResponseData = await request(out.url, {
      method: out.method as Dispatcher.HttpMethod,
      headers: out.headers,
      body: out.body,
      dispatcher: agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > MAX_BODY) {
        res.body.destroy();
        throw new Error(`response larger than ${MAX_BODY} bytes`);
      }
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]));
    let body: unknown = text;
    if (/json/i.test(headers['content-type'] ?? '') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.statusCode, headers, body };
  }

  /** A call through its target's circuit breaker: a provider at one origin (an Email Bison instance, Twilio's API). */
  async function send(credential: WorkspaceCredential, req: UpstreamRequest, ctx: { caller: string; trigger: Trigger }): Promise<UpstreamResult> {
    const url = buildUrl(credential.provider.baseUrl(credential), req);
    assertPublicUrl(url, allowPrivateTargets);
    return breakers.run(`${credential.provider.id} ${url.origin}`, `${credential.provider.name} at ${url.host}`, () => sendNow(credential, req, url, ctx));
  }

  async function sendNow(credential: WorkspaceCredential, req: UpstreamRequest, url: URL, ctx: { caller: string; trigger: Trigger }): Promise<UpstreamResult> {
    const method = req.method.toUpperCase();
    const started = performance.now();
    let attempts = 0;
    let result: UpstreamResult;
    for (;;) {
      attempts++;
      const out: OutgoingRequest = { method, url: new URL(url), headers: { accept: 'application/json', 'user-agent': 'gatehouse' } };
      if (req.body !== undefined && method !== 'GET' && method !== 'HEAD') {
        out.body = JSON.stringify(req.body);
        out.headers['content-type'] = 'application/json';
      }
      credential.provider.sign(out, credential);
      try {
        const res = await attempt(out);
        result = { ...res, durationMs: 0, attempts };
        const retryable = res.status >= 500 || res.status === 429;
        if (!retryable || !IDEMPOTENT.has(method) || attempts > MAX_RETRIES) break;
        await new Promise((r) => setTimeout(r, retryAfterMs(res.headers['retry-after'], attempts)));
      } catch (err) {
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${timeoutMs} ms` : (e.cause?.message ?? e.message);
        result = { status: null, headers: {}, body: null, durationMs: 0, attempts, error: reason };
        const privateTarget = e.code === 'EPRIVATETARGET' || e.cause?.code === 'EPRIVATETARGET';
        if (privateTarget || !IDEMPOTENT.has(method) || attempts > MAX_RETRIES) break;
        await new Promise((r) => setTimeout(r, retryAfterMs(undefined, attempts)));
      }
    }
    result.durationMs = Math.round(performance.now() - started);
    await onCall({ credential, request: { ...req, method }, result, caller: ctx.caller, trigger: ctx.trigger });
    return result;
  }

  return {
    send,
    /** One signed-by-the-caller request with the shared pool and timeout (admin tasks sign their own). */
    async raw(out: OutgoingRequest) {
      assertPublicUrl(out.url, allowPrivateTargets);
      return attempt(out);
    },
    /** Like send, but a call that got no response at all is a 502 for the caller. */
    async call(credential: WorkspaceCredential, req: UpstreamRequest, ctx: { caller: string; trigger: Trigger }) {
      const result = await send(credential, req, ctx);
      if (result.status === null) {
        throw new AppError('upstream_failed', `${credential.provider.name} did not answer: ${result.error}`, { provider: credential.provider.id, attempts: result.attempts });
      }
      return { ...result, status: result.status };
    },
    close: () => {
      breakers.shutdown();
      return agent.close();
    },
  };
}
export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
