import type { Kysely } from 'kysely';
import type { DB, Executor } from '../db/types.js';
import { backoffDelayMs, exponential } from '../lib/backoff.js';
import { reclaimExpired, type QueueTable } from '../queue/table.js';
import type { PayloadOf } from './kinds.js';
import * as store from './store.js';
import type { ClaimedJob } from './store.js';

export const JOBS_CHANNEL = 'gatehouse_jobs';

export interface NewJob<Kind extends string = string> {
  kind: Kind;
  /** Stored as JSON; none is stored as `{}`. */
  payload?: PayloadOf<Kind>;
  runAt?: Date;
  maxAttempts?: number;
  /** Jobs sharing a unique key are created once (schedules use the time slot). */
  uniqueKey?: string;
}

export type { ClaimedJob } from './store.js';

/**
 * Adds a job in the caller's transaction: it exists exactly when the change that caused it
 * commits, and the NOTIFY (delivered at commit) wakes an idle worker at once.
 */
/** Returns the new job's id, or null when a job with the same uniqueKey already exists. */
export async function enqueue<Kind extends string>(trx: Executor, job: NewJob<Kind>): Promise<string | null> {
  const row = { kind: job.kind, payload: JSON.stringify(job.payload ?? {}), runAt: job.runAt ?? new Date(), maxAttempts: job.maxAttempts ?? 10, uniqueKey: job.uniqueKey ?? null };
  return (await store.insertJob(trx, row, JOBS_CHANNEL)) ?? null;
}

/** The jobs table as the queue sees it. */
export const JOBS_TABLE: QueueTable = { table: 'jobs', due: 'run_at', waiting: 'pending', held: 'running', dead: 'failed', maxAttempts: 'max_attempts', finishedAt: 'finished_at' };

/**
 * Claims due jobs. SKIP LOCKED lets any number of workers claim side by side without waiting on
 * each other or taking the same row. With `reclaim` (the default; the worker reclaims on its own
 * cadence instead), jobs whose lease ran out because their worker died are returned first, and one
 * whose lease ran out on its last allowed attempt is failed: a job that kills its worker (or always
 * overruns its lease) must not run forever past max_attempts.
 */
export async function claimDueJobs(db: Kysely<DB>, workerId: string, kinds: string[], limit: number, leaseMs: number, opts: { reclaim?: boolean } = {}) {
  if (limit <= 0 || kinds.length === 0) return [];
  if (opts.reclaim ?? true) await reclaimExpired(db, JOBS_TABLE);
  return store.claimDue(db, workerId, kinds, limit, leaseMs);
}

/**
 * Pushes a running job's lease `leaseMs` ahead while its handler runs (the heartbeat), so only a
 * worker that stopped loses it. A lease that ran out but was not claimed again is still this
 * worker's (a claim and this update lock the row in turn). False when the job was claimed again or
 * finished: the caller must stop and record nothing.
 */
export const extendLease = (db: Kysely<DB>, id: string, workerId: string, leaseMs: number): Promise<boolean> => store.extendLease(db, id, workerId, leaseMs);

export async function completeJob(db: Kysely<DB>, id: string, workerId: string, result?: unknown) {
  await store.markDone(db, id, workerId, result === undefined ? null : JSON.stringify(result));
}

/** Capped exponential backoff: 2 s, 4 s, 8 s … at most 10 minutes. */
export const JOB_RETRY_BACKOFF = exponential({ firstMs: 2000, capMs: 600_000 });
export const retryDelayMs = (attempt: number) => backoffDelayMs(JOB_RETRY_BACKOFF, attempt);

/**
 * A failed job is data: its error and next run time are stored, and it is retried until
 * max_attempts. Returns when it runs again (null: it has failed for good).
 */
export async function failJob(db: Kysely<DB>, job: ClaimedJob, workerId: string, error: string): Promise<Date | null> {
  const final = job.attempts >= job.max_attempts;
  const runAt = new Date(Date.now() + retryDelayMs(job.attempts));
  const recorded = await store.markFailed(db, job.id, workerId, { final, error: error.slice(0, 2000), runAt });
  return !final && recorded ? runAt : null;
}

/** Finished jobs are kept a day for inspection; this removes one batch of those past it, oldest first. */
export const pruneFinishedJobs = (db: Kysely<DB>, olderThan: Date, limit: number) => store.pruneFinished(db, olderThan, limit);
