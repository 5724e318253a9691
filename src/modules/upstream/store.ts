import { sql, type QueryCreator, type Selectable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import type { CallRecord } from './client.js';

export interface CallLogFilter {
  status?: 'ok' | 'error' | number;
  provider?: string;
  from?: Date;
  to?: Date;
  /** Calls whose error (the provider's message, or why there was no answer) contains this text. */
  error?: string;
  /** Continue below this id (the previous page's next_cursor). */
  cursor?: string;
}

/** The call log row for one call, as a query (it runs inside the health statement's CTE). */
export function insertCall(qc: QueryCreator<DB>, r: CallRecord, text: { error: string | null; endpoint: string }) {
  const { credential, request, result } = r;
  return qc
    .insertInto('upstream_calls')
    .values({
      workspace_id: credential.workspaceId,
      provider: credential.provider.id,
      credential_id: credential.credentialId,
      method: request.method,
      endpoint: text.endpoint,
      status_code: result.status,
      ok: result.status !== null && result.status < 400,
      duration_ms: result.durationMs,
      attempts: result.attempts,
      key_suffix: credential.keySuffix || null,
      caller: r.caller,
      trigger: r.trigger,
      instance_id: credential.instanceId,
      error: text.error,
    });
}

export async function listCalls(db: Executor, workspaceId: string, f: CallLogFilter, limit: number) {
  let q = db.selectFrom('upstream_calls').selectAll().where('workspace_id', '=', workspaceId);
  if (f.status === 'ok') q = q.where('ok', '=', true);
  else if (f.status === 'error') q = q.where('ok', '=', false);
  else if (typeof f.status === 'number') q = q.where('status_code', '=', f.status);
  if (f.provider) q = q.where('provider', '=', f.provider);
  if (f.from) q = q.where('created_at', '>=', f.from);
  if (f.to) q = q.where('created_at', '<', f.to);
  // A substring, taken literally: %, _ and \ in the text are not patterns.
  if (f.error) q = q.where('error', 'ilike', `%${f.error.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** Retention, one batch: up to `limit` calls made before `olderThan`, oldest first. */
export async function pruneCalls(db: Executor, olderThan: Date, limit: number) {
  const result = await sql`delete from upstream_calls where id in (
    select id from upstream_calls where created_at < ${olderThan} order by created_at limit ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export type CallRow = Selectable<DB['upstream_calls']>;

type SyncCounts = { fetched: number; pages: number };

export async function insertSyncRun(db: Executor, workspaceId: string, run: { id: string; provider: string; kind: string }) {
  await db.insertInto('sync_runs').values({ ...run, workspace_id: workspaceId, status: 'running', error: null, provider_total: null, finished_at: null, fetched: 0, unique_count: 0, duplicates: 0, pages: 0 }).execute();
}

export async function failSyncRun(db: Executor, workspaceId: string, runId: string, error: string, counts: SyncCounts) {
  await db.updateTable('sync_runs').set({ status: 'failed', error, ...counts, finished_at: new Date() }).where('workspace_id', '=', workspaceId).where('id', '=', runId).execute();
}

export async function finishSyncRun(
  trx: Executor,
  workspaceId: string,
  runId: string,
  r: SyncCounts & { status: 'ok' | 'mismatch'; unique_count: number; provider_total: number | null; duplicates: number },
) {
  await trx.updateTable('sync_runs').set({ ...r, finished_at: new Date() }).where('workspace_id', '=', workspaceId).where('id', '=', runId).execute();
}

/** The workspace's sender emails become exactly `accounts` (one row each, in order). */
export async function replaceSenderEmails(trx: Executor, workspaceId: string, accounts: Array<{ provider_id: string; email: string; name: string | null; status: string | null; data: string }>) {
  await trx.deleteFrom('emailbison_sender_emails').where('workspace_id', '=', workspaceId).execute();
  for (const a of accounts) {
    await trx.insertInto('emailbison_sender_emails').values({ workspace_id: workspaceId, ...a }).execute();
  }
}

export async function countSenderEmails(db: Executor, workspaceId: string) {
  const r = await db.selectFrom('emailbison_sender_emails').select(sql<string>`count(*)`.as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  return Number(r.n);
}
