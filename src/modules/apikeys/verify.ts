import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { scopeGranted } from '../../http/actor.js';
import { systemClock, type Clock } from '../../lib/clock.js';
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

/** A verification's outcome: which fields come with it follows from its code. */
export type Verification =
  | { code: 'not_found' }
  | { code: 'valid'; key: CachedKey; ratelimit?: RateDecision }
  | { code: 'rate_limited'; key: CachedKey; ratelimit: RateDecision }
  | { code: 'usage_exceeded'; key: CachedKey; ratelimit?: RateDecision }
  | { code: Refusal; key: CachedKey };

/** What a known key can be refused for before any counter is reached. */
type Refusal = Exclude<VerifyCode, 'not_found' | 'valid' | 'rate_limited' | 'usage_exceeded'>;

export interface VerifyOptions {
  scope?: string;
  ip: string | null;
  /**
   * The address a verifier (a key with keys:verify) names for the caller it checks. It stands for
   * `ip` only for keys of the verifier's own workspace (any key, for the platform admin's): another
   * workspace's verifier must not lift an allow-list, nor spend the key's uses from elsewhere.
   */
  vouched?: { ip: string; workspaceId: string | null };
}

/** The address a key's allow-list and usage are judged by. */
const ipFor = (key: CachedKey, opts: VerifyOptions) =>
  opts.vouched && (opts.vouched.workspaceId === null || opts.vouched.workspaceId === key.workspaceId) ? opts.vouched.ip : opts.ip;

interface Deps {
  db: Kysely<DB>;
  cache: KeyCache;
  limiter: RateLimiter;
  usage: UsageRecorder;
  metrics: Metrics;
  clock?: Clock;
}

/** Why a known key may not be used now, from what the cache holds; null when it may. */
function refusal(key: CachedKey, opts: VerifyOptions, now: number): Refusal | null {
  if (key.revokedAt !== null && key.revokedAt <= now) return key.revokedReason === 'expired' ? 'expired' : 'revoked';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (key.allowList && !ipAllowed(key.allowList, ipFor(key, opts))) return 'ip_not_allowed';
  if (opts.scope && !scopeGranted(key.scopes, opts.scope)) return 'insufficient_scope';
  return null;
}

/**
 * The hot path: a SHA-256 and a cache lookup. The database is reached only on a cache miss and,
 * for usage-limited keys, for the atomic decrement of `remaining`.
 */
export function createKeyVerifier({ db, cache, limiter, usage, metrics, clock = systemClock }: Deps) {
  /**
   * The answer for a key known to the cache (null: a known miss), or undefined when the key has a
   * rate limit or a use count to reach first. Most verifications end here, with no promise and no
   * microtask turn.
   */
  function judge(key: CachedKey | null, opts: VerifyOptions): Verification | undefined {
    if (key === null) return { code: 'not_found' };
    const refused = refusal(key, opts, clock.now());
    if (refused) return { code: refused, key };
    if (key.rateLimit || key.usageLimited) return undefined;
    usage.record(key.id, ipFor(key, opts));
    return { code: 'valid', key };
  }

  /** A key not in the cache, from the database; a malformed one never costs a lookup (nor a cache entry). */
  async function lookup(raw: string, hash: string): Promise<CachedKey | null> {
    // A key in the cache passed this test when it was put there: the checksum is worked out only here.
    if (!isWellFormedKey(raw)) return null;
    const row = await store.findKeyByHash(db, hash);
    const key = row ? toCachedKey(row) : null;
    cache.set(hash, key);
    return key;
  }

  /** The rest of a usable key's check: its rate limit, then its use count. */
  async function counted(key: CachedKey, opts: VerifyOptions): Promise<Verification> {
    let ratelimit: RateDecision | undefined;
    if (key.rateLimit) {
      ratelimit = await limiter.consume(key.id, key.rateLimit.limit, key.rateLimit.windowS);
      if (!ratelimit.allowed) return { code: 'rate_limited', key, ratelimit };
    }
    if (key.usageLimited && (await store.spendOneUse(db, key.usesKeyId)) === null) {
      return { code: 'usage_exceeded', key, ratelimit };
    }
    usage.record(key.id, ipFor(key, opts));
    return { code: 'valid', key, ratelimit };
  }

  const tally = (result: Verification) => {
    metrics.keyVerifications.inc({ result: result.code });
    return result;
  };

  return {
    /** The verification if the cache alone decides it (see judge), else undefined: then call `verify`. */
    verifyCached(raw: string, opts: VerifyOptions): Verification | undefined {
      const key = cache.get(hashKey(raw));
      const result = key === undefined ? undefined : judge(key, opts);
      return result && tally(result);
    },
    async verify(raw: string, opts: VerifyOptions): Promise<Verification> {
      const hash = hashKey(raw);
      const cached = cache.get(hash); // null is a known miss: only undefined needs the database
      const key = cached === undefined ? await lookup(raw, hash) : cached;
      // judge is undefined only for a key (not a miss) with a limit to count against.
      return tally(judge(key, opts) ?? (await counted(key!, opts)));
    },
  };
}
export type KeyVerifier = ReturnType<typeof createKeyVerifier>;
