import { Type, type Static } from 'typebox';
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

// A valid key's answer differs only by its rate-limit figures: its JSON is built once per cached key
// (never changed in place, a new one replaces it) and the figures appended.
const validPrefixes = new WeakMap<object, string>();

/** `JSON.stringify(verificationBody(result))`, byte for byte: the one serializer of both the route and the fast path. */
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
