import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Database } from '../db/connect.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../lib/metrics.js';
import { claimDueJobs, completeJob, enqueue, failJob, JOBS_CHANNEL, type ClaimedJob } from './queue.js';

/** Runs one job; what it returns (if anything) is kept as the job's result. */
export type JobHandler = (payload: any, job: ClaimedJob) => Promise<unknown>;

export interface Schedule {
  kind: string;
  everyMs: number;
  payload?: unknown;
}

interface WorkerOptions {
  database: Database;
  log: Logger;
  metrics: Metrics;
  handlers: Record<string, JobHandler>;
  schedules?: Schedule[];
  concurrency: number;
  pollMs?: number;
  leaseMs?: number;
}

/**
 * Claims due jobs and runs them, up to `concurrency` at once. Woken by NOTIFY when a job is added;
 * polls as well, so a lost notification or an expired lease only delays work, never loses it.
 */
export function createWorker({ database, log, metrics, handlers, schedules = [], concurrency, pollMs = 1000, leaseMs = 60_000 }: WorkerOptions) {
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const kinds = Object.keys(handlers);
  const inFlight = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  let running = false;
  let wake: (() => void) | undefined;
  // Set by every nudge, so one that arrives while a claim is in flight (no sleep to cut short yet)
  // is not lost: the loop claims again instead of sleeping a whole pollMs.
  let nudged = false;
  let loopDone: Promise<void> | undefined;
  let stopListening: (() => Promise<void>) | undefined;

  const nudge = () => {
    nudged = true;
    wake?.();
  };

  async function run(job: ClaimedJob) {
    const handler = handlers[job.kind];
    try {
      const result = await handler(job.payload, job);
      await completeJob(database.db, job.id, workerId, result);
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'done' });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ job_id: job.id, kind: job.kind, attempt: job.attempts, err: message }, 'job failed');
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'failed' });
      await failJob(database.db, job, workerId, message).catch((e) => log.error({ err: e.message }, 'could not record job failure; its lease will expire and it will be retried'));
    }
  }

  async function loop() {
    while (running) {
      nudged = false;
      let claimed: ClaimedJob[] = [];
      const free = concurrency - inFlight.size;
      if (free > 0) {
        try {
          claimed = await claimDueJobs(database.db, workerId, kinds, free, leaseMs);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not claim jobs; retrying');
        }
      }
      for (const job of claimed) {
        const p = run(job).finally(() => {
          inFlight.delete(p);
          nudge();
        });
        inFlight.add(p);
      }
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
  }

  function startSchedules() {
    for (const s of schedules) {
      const tick = () => {
        // One job per time slot, however many workers run the same schedule.
        const slot = Math.floor(Date.now() / s.everyMs);
        enqueue(database.db, { kind: s.kind, payload: s.payload, uniqueKey: `${s.kind}@${slot}`, maxAttempts: 1 }).catch((err) =>
          log.warn({ kind: s.kind, err: err.message }, 'could not schedule job'),
        );
      };
      tick();
      const timer = setInterval(tick, s.everyMs);
      timer.unref();
      timers.push(timer);
    }
  }

  return {
    id: workerId,
    async start() {
      running = true;
      stopListening = await database.listen(JOBS_CHANNEL, nudge);
      startSchedules();
      loopDone = loop();
      log.info({ worker_id: workerId, kinds }, 'worker started');
    },
    /** Stops claiming, then waits for the jobs already running to finish. */
    async stop() {
      running = false;
      timers.forEach(clearInterval);
      nudge();
      await loopDone;
      await Promise.allSettled([...inFlight]);
      await stopListening?.();
    },
  };
}
export type Worker = ReturnType<typeof createWorker>;
