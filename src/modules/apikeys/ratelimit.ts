import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix time in milliseconds when the window resets. */
  reset: number;
}

/**
 * Per-key fixed-window limits. With Redis every process shares one counter per key; if Redis is
 * unreachable the insurance limiter keeps limiting per process instead of failing requests.
 */
export function createRateLimiter({ redisUrl, log }: { redisUrl?: string; log: Logger }) {
  const redis = redisUrl
    ? new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false })
    : undefined;
  redis?.on('error', (err) => log.warn({ err: err.message }, 'redis unavailable; rate limits fall back to process memory'));
  const limiters = new Map<string, RateLimiterAbstract>();

  const limiterFor = (limit: number, windowS: number) => {
    const id = `${limit}/${windowS}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      const opts = { points: limit, duration: windowS, keyPrefix: `gh:rl:${id}` };
      limiter = redis
        ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) })
        : new RateLimiterMemory(opts);
      limiters.set(id, limiter);
    }
    return limiter;
  };

  return {
    async consume(keyId: string, limit: number, windowS: number): Promise<RateDecision> {
      try {
        const res = await limiterFor(limit, windowS).consume(keyId, 1);
        return { allowed: true, limit, remaining: res.remainingPoints, reset: Date.now() + res.msBeforeNext };
      } catch (res) {
        if (res instanceof RateLimiterRes) {
          return { allowed: false, limit, remaining: 0, reset: Date.now() + res.msBeforeNext };
        }
        throw res;
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
