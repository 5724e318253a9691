import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { scopeGranted } from '../../http/actor.js';
import type { Metrics } from '../../lib/metrics.js';
import { toCachedKey, type CachedKey, type KeyCache } from './cache.js';
import { hashKey, isWellFormedKey } from './format.js';
import type { RateDecision, RateLimiter } from './ratelimit.js';
import { ipAllowed } from './scopes.js';
import * as store from './store.js';
import type { UsageRecorder } from './usage.js';

export type VerifyCode =
  | 'valid'
  | 'not_found'
  | 'revoked'
  | 'expired'
  | 'rate_limited'
  | 'insufficient_scope'
  | 'usage_exceeded'
  | 'ip_not_allowed';

export interface Verification {
  code: VerifyCode;
  key?: CachedKey;
  ratelimit?: RateDecision;
}

interface Deps {
  db: Kysely<DB>;
  cache: KeyCache;
  limiter: RateLimiter;
  usage: UsageRecorder;
  metrics: Metrics;
}

/**
 * The hot path: a checksum test, a SHA-256 and a cache lookup. The database is reached only on a
 * cache miss and, for usage-limited keys, for the atomic decrement of `remaining`.
 */
export function createKeyVerifier({ db, cache, limiter, usage, metrics }: Deps) {
  async function lookup(raw: string): Promise<CachedKey | null> {
    const hash = hashKey(raw);
    const cached = cache.get(hash);
    if (cached !== undefined) return cached;
    const row = await store.findKeyByHash(db, hash);
    const key = row ? toCachedKey(row) : null;
    cache.set(hash, key);
    return key;
  }

  async function check(raw: string, opts: { scope?: string; ip: string | null }): Promise<Verification> {
    // A malformed key or a failed checksum never costs a lookup.
    if (!isWellFormedKey(raw)) return { code: 'not_found' };
    const key = await lookup(raw);
    if (!key) return { code: 'not_found' };
    const now = Date.now();
    if (key.revokedAt !== null && key.revokedAt <= now) {
      return { code: key.revokedReason === 'expired' ? 'expired' : 'revoked', key };
    }
    if (key.expiresAt !== null && key.expiresAt <= now) return { code: 'expired', key };
    if (key.allowList && !ipAllowed(key.allowList, opts.ip)) return { code: 'ip_not_allowed', key };
    if (opts.scope && !scopeGranted(key.scopes, opts.scope)) return { code: 'insufficient_scope', key };
    let ratelimit: RateDecision | undefined;
    if (key.rateLimit) {
      ratelimit = await limiter.consume(key.id, key.rateLimit.limit, key.rateLimit.windowS);
      if (!ratelimit.allowed) return { code: 'rate_limited', key, ratelimit };
    }
    if (key.usageLimited && (await store.spendOneUse(db, key.id)) === null) {
      return { code: 'usage_exceeded', key, ratelimit };
    }
    usage.record(key.id, opts.ip);
    return { code: 'valid', key, ratelimit };
  }

  return {
    async verify(raw: string, opts: { scope?: string; ip: string | null }): Promise<Verification> {
      const result = await check(raw, opts);
      metrics.keyVerifications.inc({ result: result.code });
      return result;
    },
  };
}
export type KeyVerifier = ReturnType<typeof createKeyVerifier>;
