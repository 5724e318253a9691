import { sql } from 'kysely';
import type { Executor } from '../db/types.js';

/** The jobs table's statements; jobs belong to no workspace, so none takes a workspace id. */

export interface JobRow {
  kind: string;
  payload: string;
  runAt: Date;
  maxAttempts: number;
  uniqueKey: string | null;
}

export interface ClaimedJob {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
}

/** The new job's id, or undefined when a job with the same unique key exists; NOTIFY `channel` when inserted. */
export async function insertJob(trx: Executor, job: JobRow, channel: string): Promise<string | undefined> {
  const inserted = await trx
    .insertInto('jobs')
    .values({
      kind: job.kind,
      payload: job.payload,
      status: 'pending',
      run_at: job.runAt,
      max_attempts: job.maxAttempts,
      unique_key: job.uniqueKey,
      locked_by: null,
      locked_until: null,
      last_error: null,
      finished_at: null,
    })
    .onConflict((oc) => oc.column('unique_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) await sql`select pg_notify(${channel}, ${job.kind})`.execute(trx);
  return inserted?.id;
}

/** Due jobs of `kinds`, leased to `workerId` (SKIP LOCKED: claimers never wait on each other). */
export async function claimDue(db: Executor, workerId: string, kinds: string[], limit: number, leaseMs: number) {
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

export async function extendLease(db: Executor, id: string, workerId: string, leaseMs: number): Promise<boolean> {
  const r = await sql`
    update jobs set locked_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id = ${id} and locked_by = ${workerId} and status = 'running'`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function markDone(db: Executor, id: string, workerId: string, result: string | null) {
  await db
    .updateTable('jobs')
    .set({ status: 'done', finished_at: new Date(), locked_by: null, locked_until: null, result })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
}

/** Records a failure of the holder's job; false when the job is no longer `workerId`'s. */
export async function markFailed(db: Executor, id: string, workerId: string, f: { final: boolean; error: string; runAt: Date }): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({
      status: f.final ? 'failed' : 'pending',
      last_error: f.error,
      run_at: f.runAt,
      locked_by: null,
      locked_until: null,
      finished_at: f.final ? new Date() : null,
    })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function pruneFinished(db: Executor, olderThan: Date, limit: number) {
  const result = await sql`
    delete from jobs where id in (
      select id from jobs where status in ('done', 'failed') and finished_at < ${olderThan} order by finished_at limit ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export async function getJob(db: Executor, id: string) {
  return db.selectFrom('jobs').select(['id', 'kind', 'status', 'attempts', 'last_error', 'result', 'created_at', 'finished_at']).where('id', '=', id).executeTakeFirst();
}
