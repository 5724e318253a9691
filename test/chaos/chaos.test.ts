import { describe, expect, test } from 'vitest';
import { TEST_DB } from '../helpers/db.js';
import { runChaos, type ChaosOptions, type ChaosReport } from './run.js';

// `npm test` runs the short version: fewer events, and PostgreSQL and Redis taken away through
// loopback forwarders, because other test files use the real servers at the same moment.
// `npm run chaos` runs the full one: 10,000 events, and the machine's PostgreSQL cluster and Redis
// really restarted. Several processes need a shared database, so this runs on PostgreSQL only.
const FULL = process.env.GATEHOUSE_CHAOS === 'full';
const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const options: ChaosOptions = FULL
  ? { events: 10_000, ratePerS: 60, concurrency: 16, inbound: 1000, apis: 3, workers: 3, outages: 'server', outageMs: 0, receiverDownMs: 60_000, drainMs: 300_000, redisUrl, log: console.log }
  : { events: 600, ratePerS: 20, concurrency: 8, inbound: 100, apis: 3, workers: 3, outages: 'forwarded', outageMs: 3000, receiverDownMs: 10_000, drainMs: 120_000, redisUrl, log: () => {} };

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const print = (r: ChaosReport) => [
  `chaos (${FULL ? 'full' : 'short'}): ${options.apis} API + ${options.workers} worker processes, ${options.events} events at ${options.ratePerS}/s`,
  `faults: ${r.faults.join('; ')}`,
  `accepted ${r.accepted} (${r.acceptedPerS.toFixed(1)}/s over ${r.loadSeconds.toFixed(0)} s), deliveries expected ${r.expectedDeliveries}, delivered ${r.delivered}, lost ${r.lost}`,
  `redeliveries (same webhook-id answered 2xx again) ${r.redeliveries}; bad signatures ${r.badSignatures}; refused requests ${r.refused}`,
  `delivery delay, fast receiver: p50 ${s(r.fastDelayMs.p50)}, p99 ${s(r.fastDelayMs.p99)}, max ${s(r.fastDelayMs.max)}; max over all receivers ${s(r.maxDelayMs)} (the down-then-up one was down ${options.receiverDownMs / 1000} s); last delivery ${r.drainSeconds.toFixed(0)} s after the load ended`,
  `inbound accepted ${r.inboundAccepted}, stored ${r.inboundStored}`,
  `key revoked mid-run refused by every API process after ${r.revocationMs} ms`,
].join('\n');

describe.runIf(TEST_DB === 'postgres')('chaos', () => {
  test(`${FULL ? 'full' : 'short'} run: processes killed, PostgreSQL and Redis restarted, nothing accepted is lost`, async () => {
    const report = await runChaos(options);
    console.log(print(report));
    const context = `${print(report)}\n${report.outputs.map((o) => o.slice(-3000)).join('\n=====\n')}`;
    expect(report.faults, context).toHaveLength(7);
    expect(report.accepted, context).toBe(options.events);
    expect(report.refused, context).toBe(0);
    expect(report.lost, context).toBe(0);
    expect(report.badSignatures, context).toBe(0);
    expect(report.inboundStored, context).toBe(report.inboundAccepted);
    expect(report.inboundAccepted, context).toBe(options.inbound);
    expect(report.revocationMs, context).toBeLessThanOrEqual(1000);
    expect(report.exits.every((e) => e.code === 0), JSON.stringify(report.exits)).toBe(true);
  }, FULL ? 1_800_000 : 400_000);
});
