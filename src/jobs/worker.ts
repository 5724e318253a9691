import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Database } from '../db/connect.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../lib/metrics.js';
import { createClaimLoop, idlePollMs } from './loop.js';
import { claimDueJobs, completeJob, enqueue, extendLease, failJob, JOBS_CHANNEL, type ClaimedJob } from './queue.js';

/**
 * Runs one job; what it returns (if anything) is kept as the job's result. `signal` aborts when the
 * job's lease is lost (another worker may run it now): a long handler should stop at its next step.
 */
export type JobHandler = (payload: any, job: ClaimedJob, signal?: AbortSignal) => Promise<unknown>;

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

/** Claims due jobs and runs them, up to `concurrency` at once; woken by NOTIFY when a job is added. */
export function createWorker({ database, log, metrics, handlers, schedules = [], concurrency, pollMs = idlePollMs(database.kind), leaseMs = 60_000 }: WorkerOptions) {
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const kinds = Object.keys(handlers);
  const timers: NodeJS.Timeout[] = [];
  let stopListening: (() => Promise<void>) | undefined;

  /**
   * Keeps the job's lease while its handler runs, extending it every third of the lease, so a job
   * outlasting its lease is not claimed again while it runs. When the lease turns out lost (claimed
   * by another worker after this one stalled, or no extension reached the database for a whole
   * lease), the handler is aborted and its outcome is not recorded.
   */
  function heartbeat(job: ClaimedJob) {
    const lost = new AbortController();
    let extendedAt = Date.now();
    const beat = async () => {
      try {
        if (await extendLease(database.db, job.id, workerId, leaseMs)) extendedAt = Date.now();
        else lost.abort(new Error('the job\'s lease was lost: another worker may run it'));
      } catch (err) {
        if (Date.now() - extendedAt >= leaseMs) lost.abort(new Error('the job\'s lease could not be extended and ran out'));
        else log.warn({ job_id: job.id, err: (err as Error).message }, 'could not extend a job\'s lease; trying again');
      }
      if (lost.signal.aborted) {
        clearInterval(timer);
        log.warn({ job_id: job.id, kind: job.kind, reason: (lost.signal.reason as Error).message }, 'job aborted; its outcome will not be recorded');
      }
    };
    const timer = setInterval(beat, Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref();
    return { signal: lost.signal, stop: () => clearInterval(timer) };
  }

  async function run(job: ClaimedJob) {
    const handler = handlers[job.kind];
    const lease = heartbeat(job);
    try {
      const result = await handler(job.payload, job, lease.signal).finally(lease.stop);
      if (lease.signal.aborted) return;
      await completeJob(database.db, job.id, workerId, result);
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'done' });
    } catch (err) {
      if (lease.signal.aborted) return;
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ job_id: job.id, kind: job.kind, attempt: job.attempts, err: message }, 'job failed');
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'failed' });
      await failJob(database.db, job, workerId, message).then(
        (retryAt) => retryAt && loop.wakeAt(retryAt.getTime()),
        (e) => log.error({ err: e.message }, 'could not record job failure; its lease will expire and it will be retried'),
      );
    }
  }

  const loop = createClaimLoop({
    claim: (free) => claimDueJobs(database.db, workerId, kinds, free, leaseMs),
    run,
    concurrency,
    pollMs,
    log,
    what: 'jobs',
  });

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
      stopListening = await database.listen(JOBS_CHANNEL, loop.nudge);
      startSchedules();
      loop.start();
      log.info({ worker_id: workerId, kinds }, 'worker started');
    },
    /** Stops claiming, then waits for the jobs already running to finish. */
    async stop() {
      timers.forEach(clearInterval);
      await loop.stop();
      await stopListening?.();
    },
  };
}
export type Worker = ReturnType<typeof createWorker>;
