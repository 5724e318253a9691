import type { Logger } from 'pino';
import type { Database } from '../db/connect.js';
import { createClaimLoop, idlePollMs } from './loop.js';
import type { QueueMetrics, QueueName } from './metrics.js';

export interface QueueRunnerOptions<T> {
  name: QueueName;
  database: Database;
  log: Logger;
  metrics?: QueueMetrics;
  /** NOTIFY channel on which new work is announced; each notification wakes the loop. */
  channel: string;
  concurrency: number;
  /** While items run, claim again only once this many slots are free (see the loop). */
  minBatch?: number;
  /** After a partly filled claim, wait this long before the next (see the loop). */
  batchGapMs?: number;
  pollMs?: number;
  /** Returns work whose lease ran out to the queue (or to the dead letters); how many there were. */
  reclaim?: () => Promise<number>;
  /** How often expired leases are looked for (default 5 s): a lease lasts 30 s or more. */
  reclaimEveryMs?: number;
  /**
   * Anything due? A cheap look made before a claim only while the queue was last found empty:
   * planning a claim costs a few ms (on the embedded database it blocks the requests being served),
   * and under load the probe would be one more round trip per claim.
   */
  probe?: () => Promise<boolean>;
  /** Takes up to `free` items, each leased (or locked) so no other worker takes it too. */
  claim: (free: number) => Promise<T[]>;
  /** Handles one item; it records its own outcome. */
  run: (item: T) => Promise<void>;
}

/**
 * The one way work moves, whatever its table: woken by NOTIFY with polling as the safety net,
 * expired leases reclaimed on a cadence, an idle queue probed cheaply, claims sized by the free
 * slots, items run concurrently, retries woken at their due time (`wakeAt`), and one set of metrics
 * (the depth gauges are read from the tables, by whichever process is scraped: see services).
 */
export function createQueueRunner<T>(o: QueueRunnerOptions<T>) {
  const reclaimEveryMs = o.reclaimEveryMs ?? 5000;
  const label = { queue: o.name };
  let lastReclaim = 0;
  let lastFound = false;
  let stopListening: (() => Promise<void>) | undefined;

  const loop = createClaimLoop({
    claim: async (free) => {
      if (o.reclaim && Date.now() - lastReclaim > reclaimEveryMs) {
        lastReclaim = Date.now();
        const expired = await o.reclaim();
        if (expired > 0) {
          o.metrics?.leaseExpiries.inc(label, expired);
          o.log.warn({ queue: o.name, expired }, 'leases ran out (their worker stopped); the work is due again');
        }
      }
      if (o.probe && !lastFound && !(await o.probe())) return [];
      const items = await o.claim(free);
      lastFound = items.length > 0;
      o.metrics?.claims.inc(label);
      if (items.length > 0) o.metrics?.claimed.inc(label, items.length);
      return items;
    },
    run: o.run,
    concurrency: o.concurrency,
    minBatch: o.minBatch,
    batchGapMs: o.batchGapMs,
    pollMs: o.pollMs ?? idlePollMs(o.database.kind),
    log: o.log,
    what: o.name === 'deliveries' ? 'webhook deliveries' : o.name === 'inbound' ? 'inbound events' : 'jobs',
    onClaimFailed: () => o.metrics?.claimFailures.inc(label),
  });

  return {
    nudge: loop.nudge,
    wakeAt: loop.wakeAt,
    inFlight: loop.inFlight,
    claimedSince: loop.claimedSince,
    reserve: loop.reserve,
    adopt: loop.adopt,
    async start() {
      stopListening = await o.database.listen(o.channel, loop.nudge);
      loop.start();
    },
    /** Stops claiming, then waits for what is already running. */
    async stop() {
      await loop.stop();
      await stopListening?.();
    },
  };
}
export type QueueRunner = ReturnType<typeof createQueueRunner>;
