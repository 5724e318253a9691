import type { Logger } from 'pino';

/** Work due within this long gets its own wake-up (wakeAt); later work is found by a poll. */
export const WAKE_HORIZON_MS = 60_000;

/**
 * How often an idle loop looks for due work it was not told about. On PostgreSQL other processes
 * add work, and a NOTIFY lost while the listening connection reconnects must only delay it, so
 * 1 s. The embedded database belongs to this one process: every change is made here and its
 * notifications cannot be lost, so polling finds only work that came due by the clock, which
 * wakeAt covers up to WAKE_HORIZON_MS ahead. There each poll blocks the process's only thread for a
 * millisecond or two (three loops: every request in flight waits), so it polls every 10 s.
 */
export const idlePollMs = (kind: 'pglite' | 'postgres') => (kind === 'pglite' ? 10_000 : 1000);

interface LoopOptions<T> {
  /** Claims up to `free` items (with a lease, so a crashed holder's items come back). */
  claim(free: number): Promise<T[]>;
  /** Handles one claimed item; it records its own outcome. */
  run(item: T): Promise<void>;
  concurrency: number;
  /**
   * While items are running, claim again only once this many slots are free: under load each
   * finished item would otherwise cost a claim of its own (default 1).
   */
  minBatch?: number;
  /**
   * After a claim that took less than it had room for (the queue ran dry), the next waits this
   * long, so work arriving in a steady stream is taken in batches rather than a claim per item
   * (default 0). A claim after an idle spell is never delayed: the first item goes at once.
   */
  batchGapMs?: number;
  pollMs: number;
  log: Logger;
  what: string;
  /** Told of every failed claim (the warning is logged once per outage; the count is for metrics). */
  onClaimFailed?: () => void;
}

/**
 * The loop every queue runs (jobs, webhook deliveries, inbound events): claim while there is room, run what
 * was claimed concurrently, sleep until nudged (NOTIFY, or an item finishing) or the poll interval
 * passes, so a lost notification or an expired lease only delays work, never loses it.
 */
export function createClaimLoop<T>({ claim, run, concurrency, minBatch = 1, batchGapMs = 0, pollMs, log, what, onClaimFailed }: LoopOptions<T>) {
  const inFlight = new Set<Promise<void>>();
  let running = false;
  let wake: (() => void) | undefined;
  // Set by every nudge, so one that arrives while a claim is in flight (no sleep to cut short yet)
  // is not lost: the loop claims again instead of sleeping a whole pollMs.
  let nudged = false;
  let done: Promise<void> | undefined;
  let failingSince: number | undefined;
  // When the last claim came back partly filled: the next waits out batchGapMs from it.
  let partialAt = -Infinity;

  // Slots promised to items arriving other than by a claim (see reserve): not free for claims.
  let reserved = 0;

  // Claims that ended having looked at the queue (most find nothing), for whoever must know that the
  // worker has seen the queue as it is now (see claimedSince). One that failed did not look.
  let claimsEnded = 0;
  let claimUnderWay = false;
  let ended = false;
  const claimWaiters: Array<{ n: number; resolve: () => void; reject: (err: Error) => void }> = [];
  const claimEnded = () => {
    claimsEnded++;
    for (const w of claimWaiters.filter((w) => w.n <= claimsEnded)) {
      claimWaiters.splice(claimWaiters.indexOf(w), 1);
      w.resolve();
    }
  };

  const nudge = () => {
    nudged = true;
    wake?.();
  };

  const start = (item: T) => {
    const p = run(item)
      .catch((err) => log.error({ err: (err as Error).message }, `${what}: unexpected failure; the lease will expire and it will be retried`))
      .finally(() => {
        inFlight.delete(p);
        nudge();
      });
    inFlight.add(p);
  };

  /**
   * Claims again at `at` (epoch ms): for work that becomes due later (a retry), so it does not wait
   * for the next poll. Beyond the horizon the poll is soon enough, and no timer is held that long.
   * Asked again for the same moment (every claim inside the inbound batch gap), it keeps one timer.
   */
  const wakes = new Set<number>();
  const wakeAt = (at: number) => {
    const inMs = at - Date.now();
    if (inMs >= WAKE_HORIZON_MS || wakes.has(at)) return;
    wakes.add(at);
    setTimeout(() => {
      wakes.delete(at);
      nudge();
    }, Math.max(0, inMs)).unref();
  };

  async function loop() {
    while (running) {
      nudged = false;
      let claimed: T[] = [];
      const free = concurrency - inFlight.size - reserved;
      const gapLeft = partialAt + batchGapMs - Date.now();
      if (gapLeft > 0 && free > 0) {
        await new Promise((resolve) => setTimeout(resolve, gapLeft));
        continue;
      }
      if (free > 0 && (free >= minBatch || inFlight.size === 0)) {
        claimUnderWay = true;
        try {
          claimed = await claim(free);
          claimEnded();
          partialAt = claimed.length > 0 && claimed.length < free ? Date.now() : -Infinity;
          if (failingSince !== undefined) {
            log.info({ failed_for_s: Math.round((Date.now() - failingSince) / 1000) }, `claiming ${what} again`);
            failingSince = undefined;
          }
        } catch (err) {
          onClaimFailed?.();
          // One warning when claims start failing (a database outage), not one per poll.
          if (failingSince === undefined) {
            failingSince = Date.now();
            log.warn({ err: (err as Error).message }, `could not claim ${what}; retrying every ${pollMs / 1000} s`);
          }
        } finally {
          claimUnderWay = false;
        }
      }
      for (const item of claimed) start(item);
      // A full batch means more may be waiting: claim again at once.
      if (claimed.length > 0 && claimed.length === free) continue;
      if (nudged) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    ended = true;
    for (const w of claimWaiters.splice(0)) w.reject(new Error(`the ${what} loop stopped`));
  }

  return {
    nudge,
    wakeAt,
    inFlight: () => inFlight.size,
    /**
     * Resolves once a claim that began after this call has ended: the worker has then seen the queue
     * as it is now, and what it left there it passed over (a test proves by it that due work was not
     * taken, without waiting a guessed time). Rejects if the loop stops first, or has stopped.
     */
    claimedSince(): Promise<void> {
      const n = claimsEnded + (claimUnderWay ? 2 : 1);
      if (ended) return Promise.reject(new Error(`the ${what} loop stopped`));
      return new Promise((resolve, reject) => claimWaiters.push({ n, resolve, reject }));
    },
    /**
     * Promises up to `max` slots, keeping `keep` free for claims, to items that will be leased to this
     * worker elsewhere (events handed over as they are accepted); `adopt` runs them and gives back
     * the slots they did not use. None while stopping.
     */
    reserve(max: number, keep: number): number {
      const n = running ? Math.max(0, Math.min(max, concurrency - inFlight.size - reserved - keep)) : 0;
      reserved += n;
      return n;
    },
    adopt(items: T[], reservedSlots: number) {
      reserved -= reservedSlots;
      for (const item of items) start(item);
      if (items.length < reservedSlots) nudge();
    },
    start() {
      running = true;
      ended = false;
      done = loop();
    },
    /** Stops claiming, then waits for what is already running. */
    async stop() {
      running = false;
      nudge();
      await done;
      await Promise.allSettled([...inFlight]);
    },
  };
}
