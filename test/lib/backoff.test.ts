import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { REDIS_RECONNECT_BACKOFF } from '../../src/modules/apikeys/ratelimit.js';
import { loginLockBackoff } from '../../src/modules/auth/store.js';
import { LOCK_WAIT_BACKOFF } from '../../src/db/migrate.js';
import { JOB_RETRY_BACKOFF, retryDelayMs as jobRetryDelayMs } from '../../src/jobs/queue.js';
import { UPSTREAM_RETRY_BACKOFF, retryAfterMs } from '../../src/modules/upstream/client.js';
import { DEFAULT_RETRY_SCHEDULE_S, retryDelayMs as deliveryRetryDelayMs } from '../../src/modules/webhooks/retry.js';
import { backoffDelayMs, exponential, linear, nominalDelayMs, scheduleS, type BackoffPolicy, type Jitter } from '../../src/lib/backoff.js';

const jitter = fc.oneof(
  fc.constantFrom<Jitter>('none', 'full', 'equal'),
  fc.double({ min: 0, max: 0.9, noNaN: true }).map((spread): Jitter => ({ spread })),
);
const policy: fc.Arbitrary<BackoffPolicy> = fc.oneof(
  fc.record({ firstMs: fc.integer({ min: 1, max: 10_000 }), factor: fc.double({ min: 1, max: 4, noNaN: true }), capMs: fc.integer({ min: 1, max: 86_400_000 }), jitter })
    .map((o) => exponential(o)),
  fc.record({ firstMs: fc.integer({ min: 1, max: 10_000 }), capMs: fc.integer({ min: 1, max: 86_400_000 }), jitter }).map((o) => linear(o)),
  fc.record({ steps: fc.array(fc.integer({ min: 0, max: 36_000 }), { minLength: 1, maxLength: 8 }), jitter })
    .map(({ steps, jitter: j }) => scheduleS(steps.sort((a, b) => a - b), j)),
);
const retry = fc.integer({ min: 1, max: 60 });
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** Where a jittered delay may land, given its nominal delay. */
function bounds(j: Jitter, d: number): [number, number] {
  if (j === 'none') return [d, d];
  if (j === 'full') return [0, d];
  if (j === 'equal') return [d / 2, d];
  return [d * (1 - j.spread), d * (1 + j.spread)];
}
const cap = (p: BackoffPolicy) => (p.kind === 'schedule' ? Math.max(...p.stepsMs) : p.capMs);

describe('backoff policy', () => {
  test('nominal delays never shrink from one retry to the next and never pass the cap', () => {
    fc.assert(fc.property(policy, retry, (p, n) => {
      expect(nominalDelayMs(p, n + 1)).toBeGreaterThanOrEqual(nominalDelayMs(p, n));
      expect(nominalDelayMs(p, n)).toBeLessThanOrEqual(cap(p));
    }));
  });

  test('a jittered delay stays within its jitter bounds (to the rounding ms)', () => {
    fc.assert(fc.property(policy, retry, unit, (p, n, r) => {
      const [lo, hi] = bounds(p.jitter, nominalDelayMs(p, n));
      const got = backoffDelayMs(p, n, () => r);
      expect(got).toBeGreaterThanOrEqual(Math.floor(lo));
      expect(got).toBeLessThanOrEqual(Math.ceil(hi));
      expect(Number.isInteger(got)).toBe(true);
    }));
  });

  test('a schedule repeats its last step; an empty one waits nothing', () => {
    const p = scheduleS([5, 30]);
    expect([1, 2, 3, 9].map((n) => nominalDelayMs(p, n))).toEqual([5000, 30_000, 30_000, 30_000]);
    expect(backoffDelayMs(scheduleS([], { spread: 0.2 }), 3)).toBe(0);
  });
});

// Each retry site keeps the numbers it had before they came from one module.
describe('the retry sites', () => {
  const nominal = (p: BackoffPolicy, n: number) => Array.from({ length: n }, (_, i) => nominalDelayMs(p, i + 1));

  test('jobs: 2 s doubling, at most 10 minutes, no jitter', () => {
    expect(nominal(JOB_RETRY_BACKOFF, 11)).toEqual([2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 600_000, 600_000]);
    expect(jobRetryDelayMs(1)).toBe(2000);
  });

  test('upstream: 400 ms then 800 ms, ±50%, unless Retry-After says otherwise', () => {
    expect(nominal(UPSTREAM_RETRY_BACKOFF, 2)).toEqual([400, 800]);
    expect([0, 0.5, 0.999].map((r) => backoffDelayMs(UPSTREAM_RETRY_BACKOFF, 2, () => r))).toEqual([400, 800, 1199]);
    expect(retryAfterMs('3', 1)).toBe(3000);
  });

  test('webhook deliveries: the configured schedule ±20%, its last step repeating, Retry-After when longer', () => {
    expect(deliveryRetryDelayMs(DEFAULT_RETRY_SCHEDULE_S, 1, undefined, () => 0)).toBe(4000);
    expect(deliveryRetryDelayMs(DEFAULT_RETRY_SCHEDULE_S, 2, undefined, () => 0.5)).toBe(300_000);
    expect(deliveryRetryDelayMs([5, 60], 9, undefined, () => 0.5)).toBe(60_000);
    expect(deliveryRetryDelayMs([5], 1, 120, () => 0.5)).toBe(120_000);
  });

  test('sign-in locks: the first lock, doubling, a day at most', () => {
    const lock = loginLockBackoff({ lockAfter: 5, lockS: 900 });
    expect(nominal(lock, 9).map((ms) => ms / 1000)).toEqual([900, 1800, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400]);
  });

  test('migration lock waits: 250 ms doubling to 5 s, in [d/2, d)', () => {
    expect(nominal(LOCK_WAIT_BACKOFF, 7)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect([0, 0.5].map((r) => backoffDelayMs(LOCK_WAIT_BACKOFF, 1, () => r))).toEqual([125, 187]);
  });

  test('Redis reconnects: 0.2 s more each time, every 2 s at most', () => {
    expect(nominal(REDIS_RECONNECT_BACKOFF, 12)).toEqual([200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2000, 2000]);
  });
});
