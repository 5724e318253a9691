import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com), as the contract fixes it: a `whsec_` secret
 * holding base64 of random bytes; `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`
 * keyed with the decoded bytes; several signatures space-separated (both secrets during a rotation).
 */
export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

export const generateSecret = (): string => SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');

/** A secret a user brings must be what the receiving libraries accept: whsec_ + base64 of 24–64 bytes. */
export function isValidSecret(secret: string): boolean {
  if (!secret.startsWith(SECRET_PREFIX)) return false;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  const n = Buffer.from(b64, 'base64').length;
  return n >= 24 && n <= 64;
}

export function sign(secret: string, msgId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${msgId}.${timestamp}.${body}`).digest('base64');
}

/** The three Standard Webhooks headers for one attempt; `secrets` newest first. */
export function signatureHeaders(secrets: string[], msgId: string, body: string, now = Date.now()) {
  const timestamp = Math.floor(now / 1000);
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, msgId, timestamp, body)).join(' '),
  };
}
