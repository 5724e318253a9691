import { sql, type Kysely } from 'kysely';
import type { DB, Executor } from '../db/types.js';
import { backoffDelayMs, exponential } from '../lib/backoff.js';
import { reclaimExpired, type QueueTable } from '../queue/table.js';

export const JOBS_CHANNEL = 'gatehouse_jobs';

export interface NewJob {
  kind: string;
  payload?: unknown;
  runAt?: Date;
  maxAttempts?: number;
  /** Jobs sharing a unique key are created once (schedules use the time slot). */
  uniqueKey?: string;
}

export interface ClaimedJob {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
}

/**
 * Adds a job in the caller's transaction: it exists exactly when the change that caused it
 * commits, and the NOTIFY (delivered at commit) wakes an idle worker at once.
 */
/** Returns the new job's id, or null when a job with the same uniqueKey already exists. */
export async function enqueue(trx: Executor, job: NewJob): Promise<string | null> {
  const inserted = await trx
    .insertInto('jobs')
    .values({
      kind: job.kind,
      payload: JSON.stringify(job.payload ?? {}),
      status: 'pending',
      run_at: job.runAt ?? new Date(),
      max_attempts: job.maxAttempts ?? 10,
      unique_key: job.uniqueKey ?? null,
      locked_by: null,
      locked_until: null,
      last_error: null,
      finished_at: null,
    })
    .onConflict((oc) => oc.column('unique_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) await sql`select pg_notify(${JOBS_CHANNEL}, ${job.kind})`.execute(trx);
  return inserted?.id ?? null;
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
  const result = await sql<ClaimedJob>`
    update jobs set status = 'running', locked_by = ${workerId},
      locked_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
    where id in (
      select id from jobs
      where kind = any(${kinds}::text[]) and status = 'pending' and run_at <= now()
      order by run_at
      limit ${limit}
      for update skip locked)
    returning id, kind, payload, attempts, max_attempts`.execute(db);
  return result.rows;
}

/**
 * Pushes a running job's lease `leaseMs` ahead while its handler runs (the heartbeat), so only a
 * worker that stopped loses it. A lease that ran out but was not claimed again is still this
 * worker's (a claim and this update lock the row in turn). False when the job was claimed again or
 * finished: the caller must stop and record nothing.
 */
export async function extendLease(db: Kysely<DB>, id: string, workerId: string, leaseMs: number): Promise<boolean> {
  const r = await sql`
    update jobs set locked_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id = ${id} and locked_by = ${workerId} and status = 'running'`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function completeJob(db: Kysely<DB>, id: string, workerId: string, result?: unknown) {
  await db
    .updateTable('jobs')
    .set({ status: 'done', finished_at: new Date(), locked_by: null, locked_until: null, result: result === undefined ? null : JSON.stringify(result) })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
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
  const r = await db
    .updateTable('jobs')
    .set({
      status: final ? 'failed' : 'pending',
      last_error: error.slice(0, 2000),
      run_at: runAt,
      locked_by: null,
      locked_until: null,
      finished_at: final ? new Date() : null,
    })
    .where('id', '=', job.id)
    .where('locked_by', '=', workerId)
    .executeTakeFirst();
  return !final && r.numUpdatedRows > 0n ? runAt : null;
}

/** Finished jobs are kept a day for inspection; this removes one batch of those past it, oldest first. */
export async function pruneFinishedJobs(db: Kysely<DB>, olderThan: Date, limit: number) {
  const result = await sql`
    delete from jobs where id in (
      select id from jobs where status in ('done', 'failed') and finished_at < ${olderThan} order by finished_at limit ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
