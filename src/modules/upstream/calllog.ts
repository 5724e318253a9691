import { sql, type QueryCreator } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import type { CallRecord } from './client.js';

export interface CallLogFilter {
  status?: 'ok' | 'error' | number;
  provider?: string;
  from?: Date;
  to?: Date;
  /** Continue below this id (the previous page's next_cursor). */
  cursor?: string;
}

/** The call log row for one call, as a query (it runs inside the health statement's CTE). */
export function insertCall(qc: QueryCreator<DB>, r: CallRecord) {
  const { credential, request, result } = r;
  return qc
    .insertInto('upstream_calls')
    .values({
      workspace_id: credential.workspaceId,
      provider: credential.provider.id,
      credential_id: credential.credentialId,
      method: request.method,
      // The caller's path only: the signed URL can carry secrets as query parameters (Vonage).
      endpoint: request.path.split('?')[0].slice(0, 500),
      status_code: result.status,
      ok: result.status !== null && result.status < 400,
      duration_ms: result.durationMs,
      attempts: result.attempts,
      key_suffix: credential.keySuffix || null,
      caller: r.caller,
      trigger: r.trigger,
      error: result.error?.slice(0, 500) ?? null,
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
  if (f.cursor) q = q.where('id', '<', f.cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** Retention, one batch: up to `limit` calls made before `olderThan`, oldest first. */
export async function pruneCalls(db: Executor, olderThan: Date, limit: number) {
  const result = await sql`delete from upstream_calls where id in (
    select id from upstream_calls where created_at < ${olderThan} order by created_at limit ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
