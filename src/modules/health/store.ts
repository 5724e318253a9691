import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';

export interface Outcome {
  workspaceId: string;
  provider: string;
  /**
   * failed: the credential or provider is broken (401/403, 5xx, no answer), counts toward failing;
   * ok: the provider accepted the credential; unknown: the answer proves neither (429, 408), so the
   * run of failures is neither extended nor reset.
   */
  verdict: 'ok' | 'failed' | 'unknown';
  /** Any non-2xx/3xx answer or none: counts in the day's errors. */
  error: boolean;
  statusCode: number | null;
  message: string | null;
}

/**
 * Records one call's outcome with SQL increments only, and returns the consecutive failures before
 * and after, so the caller can tell a transition (healthy → failing, failing → recovered).
 */
export async function recordOutcome(trx: Executor, o: Outcome): Promise<{ before: number; after: number }> {
  const day = new Date().toISOString().slice(0, 10);
  await trx
    .insertInto('credential_health_daily')
    .values({ workspace_id: o.workspaceId, provider: o.provider, day, calls: 1, errors: o.error ? 1 : 0 })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'provider', 'day']).doUpdateSet({
        calls: sql`credential_health_daily.calls + 1`,
        errors: sql`credential_health_daily.errors + ${o.error ? 1 : 0}`,
      }),
    )
    .execute();
  const prev = await trx
    .selectFrom('credential_health')
    .select('consecutive_failures')
    .where('workspace_id', '=', o.workspaceId)
    .where('provider', '=', o.provider)
    .forUpdate()
    .executeTakeFirst();
  if (o.verdict === 'unknown') {
    const n = prev?.consecutive_failures ?? 0;
    return { before: n, after: n };
  }
  const failed = o.verdict === 'failed';
  const row = await trx
    .insertInto('credential_health')
    .values({
      workspace_id: o.workspaceId,
      provider: o.provider,
      last_success_at: failed ? null : new Date(),
      last_failure_at: failed ? new Date() : null,
      consecutive_failures: failed ? 1 : 0,
      last_status_code: o.statusCode,
      last_error: failed ? o.message : null,
    })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'provider']).doUpdateSet({
        last_success_at: failed ? sql`credential_health.last_success_at` : sql`now()`,
        last_failure_at: failed ? sql`now()` : sql`credential_health.last_failure_at`,
        consecutive_failures: failed ? sql`credential_health.consecutive_failures + 1` : sql`0`,
        last_status_code: o.statusCode,
        last_error: failed ? o.message : sql`credential_health.last_error`,
        updated_at: sql`now()`,
      }),
    )
    .returning('consecutive_failures')
    .executeTakeFirstOrThrow();
  return { before: prev?.consecutive_failures ?? 0, after: row.consecutive_failures };
}

export async function healthRows(db: Executor, workspaceId: string) {
  return db.selectFrom('credential_health').selectAll().where('workspace_id', '=', workspaceId).execute();
}

export async function dailyRows(db: Executor, workspaceId: string, since: string) {
  return db
    .selectFrom('credential_health_daily')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('day', '>=', since)
    .orderBy('day')
    .execute();
}

/** Every active workspace with, per provider it has a credential for, its consecutive failures. */
export async function fleet(db: Executor) {
  return db
    .selectFrom('workspaces as w')
    .leftJoin('credentials as c', 'c.workspace_id', 'w.id')
    .leftJoin('credential_health as h', (j) => j.onRef('h.workspace_id', '=', 'w.id').onRef('h.provider', '=', 'c.provider'))
    .select(['w.id as workspace_id', 'w.name', 'c.provider', 'c.instance_id', 'h.consecutive_failures'])
    .where('w.status', '=', 'active')
    .execute();
}

export async function latestSync(db: Executor, workspaceId: string) {
  return db.selectFrom('sync_runs').selectAll().where('workspace_id', '=', workspaceId).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
}
