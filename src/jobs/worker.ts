import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Database } from '../db/connect.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../lib/metrics.js';
import { holdLease } from '../queue/lease.js';
import type { QueueMetrics } from '../queue/metrics.js';
import { createQueueRunner } from '../queue/runner.js';
import { anyDue, reclaimExpired } from '../queue/table.js';
import { claimDueJobs, completeJob, enqueue, extendLease, failJob, JOBS_CHANNEL, JOBS_TABLE, type ClaimedJob } from './queue.js';

/**
 * Runs one job; what it returns (if anything) is kept as the job's result. `signal` aborts when the
 * job's lease is lost (another worker may run it now): a long handler should stop at its next step.
 */
export type JobHandler<Payload = unknown> = (payload: Payload, job: ClaimedJob, signal?: AbortSignal) => Promise<unknown>;

/** One handler per kind of a payload map (kind → what its jobs carry), each given its kind's payload. */
export type JobHandlers<Payloads> = { [K in keyof Payloads]: JobHandler<Payloads[K]> };

export interface Schedule {
  kind: string;
  everyMs: number;
  payload?: unknown;
}

interface WorkerOptions<Payloads> {
  database: Database;
  log: Logger;
  metrics: Metrics;
  queueMetrics?: QueueMetrics;
  handlers: JobHandlers<Payloads>;
  schedules?: Schedule[];
  concurrency: number;
  pollMs?: number;
  leaseMs?: number;
}

/** Claims due jobs and runs them, up to `concurrency` at once; woken by NOTIFY when a job is added. */
export function createWorker<Payloads>({ database, log, metrics, queueMetrics, handlers, schedules = [], concurrency, pollMs, leaseMs = 60_000 }: WorkerOptions<Payloads>) {
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const kinds = Object.keys(handlers);
  const timers: NodeJS.Timeout[] = [];

  async function run(job: ClaimedJob) {
    // Claimed only among the handlers' kinds, and written by enqueue, which checks a payload against its kind.
    const kind = job.kind as keyof Payloads;
    const handler: JobHandler<Payloads[typeof kind]> = handlers[kind];
    const payload = job.payload as Payloads[typeof kind];
    // The heartbeat keeps the lease while the handler runs, however long it takes.
    const lease = holdLease(() => extendLease(database.db, job.id, workerId, leaseMs), leaseMs, log, { job_id: job.id, kind: job.kind });
    try {
      const result = await handler(payload, job, lease.signal).finally(lease.stop);
      if (lease.signal.aborted) return;
      await completeJob(database.db, job.id, workerId, result);
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'done' });
    } catch (err) {
      if (lease.signal.aborted) return;
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ job_id: job.id, kind: job.kind, attempt: job.attempts, err: message }, 'job failed');
      metrics.jobsProcessed.inc({ kind: job.kind, outcome: 'failed' });
      await failJob(database.db, job, workerId, message).then(
        (retryAt) => retryAt && queue.wakeAt(retryAt.getTime()),
        (e) => log.error({ err: e.message }, 'could not record job failure; its lease will expire and it will be retried'),
      );
    }
  }

  const queue = createQueueRunner({
    name: 'jobs',
    database,
    log,
    metrics: queueMetrics,
    channel: JOBS_CHANNEL,
    concurrency,
    pollMs,
    reclaim: () => reclaimExpired(database.db, JOBS_TABLE),
    probe: () => anyDue(database.db, JOBS_TABLE),
    claim: (free) => claimDueJobs(database.db, workerId, kinds, free, leaseMs, { reclaim: false }),
    run,
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
    /** Resolves once a claim begun after this call has ended (see the claim loop). */
    claimedSince: queue.claimedSince,
    async start() {
      await queue.start();
      startSchedules();
      log.info({ worker_id: workerId, kinds }, 'worker started');
    },
    /** Stops claiming, then waits for the jobs already running to finish. */
    async stop() {
      timers.forEach(clearInterval);
      await queue.stop();
    },
  };
}
export type Worker = ReturnType<typeof createWorker>;
