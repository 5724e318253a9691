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

export interface VerifyOptions {
  scope?: string;
  ip: string | null;
}

interface Deps {
  db: Kysely<DB>;
  cache: KeyCache;
  limiter: RateLimiter;
  usage: UsageRecorder;
  metrics: Metrics;
}

/** Why a known key may not be used now, from what the cache holds; null when it may. */
function refusal(key: CachedKey, opts: VerifyOptions): VerifyCode | null {
  const now = Date.now();
  if (key.revokedAt !== null && key.revokedAt <= now) return key.revokedReason === 'expired' ? 'expired' : 'revoked';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (key.allowList && !ipAllowed(key.allowList, opts.ip)) return 'ip_not_allowed';
  if (opts.scope && !scopeGranted(key.scopes, opts.scope)) return 'insufficient_scope';
  return null;
}

/**
 * The hot path: a SHA-256 and a cache lookup. The database is reached only on a cache miss and,
 * for usage-limited keys, for the atomic decrement of `remaining`.
 */
export function createKeyVerifier({ db, cache, limiter, usage, metrics }: Deps) {
  /**
   * The answer when the cache alone gives it: a known miss, a refusal, or a key with neither a
   * rate limit nor a use count. Undefined when a lookup or a counter must be reached first. Most
   * verifications end here, with no promise and no microtask turn.
   */
  function checkCached(hash: string, opts: VerifyOptions): Verification | undefined {
    const key = cache.get(hash);
    if (key === undefined) return undefined;
    if (key === null) return { code: 'not_found' };
    const refused = refusal(key, opts);
    if (refused) return { code: refused, key };
    if (key.rateLimit || key.usageLimited) return undefined;
    usage.record(key.id, opts.ip);
    return { code: 'valid', key };
  }

  async function check(raw: string, hash: string, opts: VerifyOptions): Promise<Verification> {
    let key = cache.get(hash);
    if (key === undefined) {
      // A malformed key or a failed checksum never costs a lookup (nor a cache entry). A key in the
      // cache passed this test when it was put there, so the checksum is not worked out again.
      if (!isWellFormedKey(raw)) return { code: 'not_found' };
      const row = await store.findKeyByHash(db, hash);
      key = row ? toCachedKey(row) : null;
      cache.set(hash, key);
    }
    if (!key) return { code: 'not_found' };
    const refused = refusal(key, opts);
    if (refused) return { code: refused, key };
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

  const counted = (result: Verification) => {
    metrics.keyVerifications.inc({ result: result.code });
    return result;
  };

  return {
    /** The verification if it needs no I/O (see checkCached), else undefined: then call `verify`. */
    verifyCached(raw: string, opts: VerifyOptions): Verification | undefined {
      const result = checkCached(hashKey(raw), opts);
      return result && counted(result);
    },
    async verify(raw: string, opts: VerifyOptions): Promise<Verification> {
      const hash = hashKey(raw);
      return counted(checkCached(hash, opts) ?? (await check(raw, hash, opts)));
    },
  };
}
export type KeyVerifier = ReturnType<typeof createKeyVerifier>;
