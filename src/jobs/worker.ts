import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Database } from '../db/connect.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../lib/metrics.js';
import { createClaimLoop, idlePollMs } from './loop.js';
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

/** Claims due jobs and runs them, up to `concurrency` at once; woken by NOTIFY when a job is added. */
export function createWorker({ database, log, metrics, handlers, schedules = [], concurrency, pollMs = idlePollMs(database.kind), leaseMs = 60_000 }: WorkerOptions) {
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const kinds = Object.keys(handlers);
  const timers: NodeJS.Timeout[] = [];
  let stopListening: (() => Promise<void>) | undefined;

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
