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
 *
 * Every upstream call waits for this, and PGlite spends ~0.1–0.3 ms per statement, so the usual
 * outcomes take two: the day's bucket, then one write or read of the run of failures. The day's
 * bucket always comes first, so every path locks the two rows in the same order.
 * - failed: the run grows by one under the row lock ON CONFLICT takes, so `before` is `after − 1`;
 * - ok while there is no run of failures: only the success is stamped, and only if the run is still
 *   0 (Postgres re-checks that condition on the newest row after a concurrent writer commits);
 * - ok that ends a run, or a credential's first call: the run is read under FOR UPDATE, then reset;
 * - unknown: the run is read, not changed.
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

  if (o.verdict === 'failed') {
    const row = await trx
      .insertInto('credential_health')
      .values({
        workspace_id: o.workspaceId,
        provider: o.provider,
        last_failure_at: new Date(),
        consecutive_failures: 1,
        last_status_code: o.statusCode,
        last_error: o.message,
      })
      .onConflict((oc) =>
        oc.columns(['workspace_id', 'provider']).doUpdateSet({
          last_failure_at: sql`now()`,
          consecutive_failures: sql`credential_health.consecutive_failures + 1`,
          last_status_code: o.statusCode,
          last_error: o.message,
          updated_at: sql`now()`,
        }),
      )
      .returning('consecutive_failures')
      .executeTakeFirstOrThrow();
    return { before: row.consecutive_failures - 1, after: row.consecutive_failures };
  }

  if (o.verdict === 'unknown') {
    const row = await trx
      .selectFrom('credential_health')
      .select('consecutive_failures')
      .where('workspace_id', '=', o.workspaceId)
      .where('provider', '=', o.provider)
      .executeTakeFirst();
    const n = row?.consecutive_failures ?? 0;
    return { before: n, after: n };
  }

  const stamped = await trx
    .updateTable('credential_health')
    .set({ last_success_at: sql`now()`, last_status_code: o.statusCode, updated_at: sql`now()` })
    .where('workspace_id', '=', o.workspaceId)
    .where('provider', '=', o.provider)
    .where('consecutive_failures', '=', 0)
    .returning('consecutive_failures')
    .executeTakeFirst();
  if (stamped) return { before: 0, after: 0 };

  const prev = await trx
    .selectFrom('credential_health')
    .select('consecutive_failures')
    .where('workspace_id', '=', o.workspaceId)
    .where('provider', '=', o.provider)
    .forUpdate()
    .executeTakeFirst();
  const row = await trx
    .insertInto('credential_health')
    .values({
      workspace_id: o.workspaceId,
      provider: o.provider,
      last_success_at: new Date(),
      consecutive_failures: 0,
      last_status_code: o.statusCode,
    })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'provider']).doUpdateSet({
        last_success_at: sql`now()`,
        consecutive_failures: sql`0`,
        last_status_code: o.statusCode,
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
