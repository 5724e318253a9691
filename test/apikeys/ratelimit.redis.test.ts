import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../../src/modules/apikeys/ratelimit.js';
import { eventually } from '../helpers/webhooks.js';

const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = pino({ level: 'silent' });
let processA: RateLimiter;
let processB: RateLimiter;

beforeAll(async () => {
  // Fail loudly when Redis is missing: the limiter would otherwise fall back to memory and pass.
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await probe.connect().catch((err) => {
    throw new Error(`Redis at ${REDIS_URL} is unreachable (${err.message}); this test needs it`);
  });
  expect(await probe.ping()).toBe('PONG');
  probe.disconnect();
  processA = createRateLimiter({ redisUrl: REDIS_URL, log });
  processB = createRateLimiter({ redisUrl: REDIS_URL, log });
  // Both clients connected (there is no offline queue): until then each counts in its own memory.
  await eventually(async () => processA.shared() && processB.shared());
});
afterAll(async () => {
  await processA?.close();
  await processB?.close();
});

test('two processes share one counter per key through Redis', async () => {
  const keyId = `key_test_${randomBytes(6).toString('hex')}`;
  const results = [
    await processA.consume(keyId, 3, 60),
    await processB.consume(keyId, 3, 60),
    await processA.consume(keyId, 3, 60),
    await processB.consume(keyId, 3, 60),
  ];
  expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
  expect(results[2].remaining).toBe(0);
  expect(results[3].reset).toBeGreaterThan(Date.now());
});

test('without Redis each process counts on its own', async () => {
  const a = createRateLimiter({ log });
  const b = createRateLimiter({ log });
  const keyId = 'key_memory';
  expect((await a.consume(keyId, 1, 60)).allowed).toBe(true);
  expect((await b.consume(keyId, 1, 60)).allowed).toBe(true);
  expect((await a.consume(keyId, 1, 60)).allowed).toBe(false);
});
