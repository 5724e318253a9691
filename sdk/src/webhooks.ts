import type { WebhookMessage } from './events.js';

/** Why a delivery was refused: answer it with a 4xx and do not act on it. */
export type WebhookVerificationCode =
  | 'missing_header' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new'
  | 'invalid_signature' | 'invalid_secret' | 'invalid_body';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(readonly code: WebhookVerificationCode, message: string) {
    super(message);
  }
}

/** Fetch's `Headers`, or Node's `req.headers` (lower-case names; a value may be an array). */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the `webhook-timestamp` may be from now, either way, in seconds (default 300): an old message replayed is refused. */
  toleranceS?: number;
  /** The time to judge the timestamp against (default: now). */
  now?: Date | number;
}

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const encoder = new TextEncoder();

/**
 * Checks a Gatehouse delivery (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature` with space-separated `v1,<base64>` entries) and returns its parsed body.
 * `body` must be the raw bytes or text as received, before any JSON parsing. `secret` may be a
 * list: while an endpoint's secret is rotated, pass the new and the old one; any signature made
 * with any of them passes. Throws a `WebhookVerificationError` otherwise.
 */
export async function verifyWebhook(
  body: string | Uint8Array | ArrayBuffer,
  headers: HeadersLike,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<WebhookMessage> {
  const keys = (typeof secret === 'string' ? [secret] : [...secret]).map(secretBytes);
  if (keys.length === 0) throw new WebhookVerificationError('invalid_secret', 'no secret given');
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');

  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not a number of seconds');
  const toleranceS = options.toleranceS ?? 300;
  const nowS = Math.floor(Number(options.now ?? Date.now()) / 1000);
  const ts = Number(timestamp);
  if (ts < nowS - toleranceS) throw new WebhookVerificationError('timestamp_too_old', `the message is more than ${toleranceS} s old`);
  if (ts > nowS + toleranceS) throw new WebhookVerificationError('timestamp_too_new', `the message is dated more than ${toleranceS} s ahead`);

  const bytes = typeof body === 'string' ? encoder.encode(body) : new Uint8Array(body);
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix);
  signed.set(bytes, prefix.length);

  const candidates = signatures.split(' ').flatMap((entry) => {
    const [version, value] = entry.split(',', 2);
    const bytes = version === 'v1' && value ? base64Bytes(value) : null;
    return bytes ? [bytes] : [];
  });
  if (!(await anyMatches(keys, candidates, signed))) {
    throw new WebhookVerificationError('invalid_signature', 'no signature matches the body and the given secret(s)');
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as WebhookMessage;
  } catch {
    throw new WebhookVerificationError('invalid_body', 'the body is not JSON');
  }
}

async function anyMatches(keys: Uint8Array<ArrayBuffer>[], candidates: Uint8Array<ArrayBuffer>[], signed: Uint8Array<ArrayBuffer>): Promise<boolean> {
  if (candidates.length === 0) return false;
  for (const raw of keys) {
    const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    // verify() compares in constant time: a receiver must not leak how much of a guess was right.
    for (const signature of candidates) if (await crypto.subtle.verify('HMAC', key, signature, signed)) return true;
  }
  return false;
}

/** `whsec_` + base64, as Gatehouse issues them (the prefix may be left off, as Standard Webhooks allows). */
function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const bytes = base64Bytes(b64);
  if (!bytes || bytes.length === 0) throw new WebhookVerificationError('invalid_secret', 'a secret is not whsec_ followed by base64');
  return bytes;
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64.test(b64)) return null;
  let text: string;
  try {
    text = atob(b64);
  } catch {
    return null;
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function header(headers: HeadersLike, name: string): string {
  let value: string | string[] | null | undefined;
  if (typeof (headers as Headers).get === 'function') value = (headers as Headers).get(name);
  else {
    const record = headers as Record<string, string | string[] | undefined>;
    value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  }
  const text = Array.isArray(value) ? value.join(' ') : value;
  if (!text) throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  return text;
}
