import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { backoffDelayMs, linear } from '../../lib/backoff.js';

/** Reconnects to Redis every 0.2 s, 0.4 s … then every 2 s. */
export const REDIS_RECONNECT_BACKOFF = linear({ firstMs: 200, capMs: 2000 });

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix time in milliseconds when the window resets. */
  reset: number;
}

/**
 * Per-key fixed-window limits. With Redis every process shares one counter per key; if Redis is
 * unreachable the insurance limiter keeps limiting per process instead of failing requests, and
 * ioredis keeps reconnecting, so limits return to Redis by themselves.
 */
export function createRateLimiter({ redisUrl, log, registry }: { redisUrl?: string; log: Logger; registry?: Registry }) {
  const redis = redisUrl
    ? new Redis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      // Retry for ever: an outage of any length ends in a reconnect, never in giving up.
      retryStrategy: (times) => backoffDelayMs(REDIS_RECONNECT_BACKOFF, times),
    })
    : undefined;
  const fallbackDecisions = registry && new Counter({
    name: 'gatehouse_ratelimit_fallback_total',
    help: 'Rate-limit decisions counted in process memory because Redis was unreachable',
    registers: [registry],
  });
  if (redis && registry) {
    new Gauge({
      name: 'gatehouse_ratelimit_redis_up',
      help: '1 while rate limits count in Redis, 0 while this process counts in its own memory',
      registers: [registry],
      collect() {
        this.set(redis.status === 'ready' ? 1 : 0);
      },
    });
  }
  // One warning per outage and one note per return, not one per reconnect attempt.
  let degraded = false;
  let closing = false;
  const fallBack = (reason: string) => {
    if (degraded || closing) return;
    degraded = true;
    log.warn({ err: reason }, 'redis unavailable; rate limits fall back to process memory');
  };
  // A refused connection arrives as 'error'; a server that shuts down cleanly only as 'close'.
  redis?.on('error', (err) => fallBack(err.message));
  redis?.on('close', () => fallBack('connection closed'));
  redis?.on('ready', () => {
    if (!degraded) return;
    degraded = false;
    log.info('redis reachable again; rate limits count in redis');
  });
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
      if (redis && redis.status !== 'ready') fallbackDecisions?.inc();
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
    /** Whether decisions count in Redis now (shared by every process) rather than in this process. */
    shared: () => redis?.status === 'ready',
    async close() {
      closing = true;
      redis?.disconnect();
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
