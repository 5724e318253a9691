import { sql, type Kysely, type QueryCreator } from 'kysely';
import type { DB, Executor } from '../../db/types.js';

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

/** A write that belongs with the outcome (the call log row), built so it can run inside a CTE. */
export type Alongside = (qc: QueryCreator<DB>) => { compile(): unknown; execute(): Promise<unknown> };

const today = () => new Date().toISOString().slice(0, 10);

function dayUpsert(qc: QueryCreator<DB>, o: Outcome) {
  return qc
    .insertInto('credential_health_daily')
    .values({ workspace_id: o.workspaceId, provider: o.provider, day: today(), calls: 1, errors: o.error ? 1 : 0 })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'provider', 'day']).doUpdateSet({
        calls: sql`credential_health_daily.calls + 1`,
        errors: sql`credential_health_daily.errors + ${o.error ? 1 : 0}`,
      }),
    );
}

/**
 * The usual outcome, a success while there is no run of failures, in ONE statement (no BEGIN or
 * COMMIT): the call log row, the day's bucket and the success stamp. Every upstream call waits for
 * this, and PGlite spends ~0.2 ms per statement, so this path is what keeps Gatehouse's overhead on
 * a call small. The stamp applies only while the run is 0 (Postgres re-checks that on the newest
 * row after a concurrent writer commits), and its condition reads the bucket's CTE, so the bucket
 * is locked first, as on every other path. Returns false when nothing was stamped (a run of
 * failures to end, or the credential's first call): the log row and the bucket are written all the
 * same, and `recordOutcome(…, { counted: true })` finishes the job.
 */
export async function recordSteadySuccess(db: Kysely<DB>, o: Outcome, alongside: Alongside): Promise<boolean> {
  const result = await sql<{ stamped: number }>`
    with day as (${dayUpsert(db, o).returning(sql<number>`1`.as('one'))}),
    logged as (${alongside(db)}),
    stamped as (
      update credential_health set last_success_at = now(), last_status_code = ${o.statusCode}, updated_at = now()
      where workspace_id = ${o.workspaceId} and provider = ${o.provider} and consecutive_failures = 0
        and exists (select 1 from day)
      returning 1
    )
    select count(*)::int as stamped from stamped`.execute(db);
  return (result.rows[0]?.stamped ?? 0) > 0;
}

/**
 * Records one call's outcome with SQL increments only, and returns the consecutive failures before
 * and after, so the caller can tell a transition (healthy → failing, failing → recovered).
 * The day's bucket always comes first, so every path locks the two rows in the same order.
 * - failed: the run grows by one under the row lock ON CONFLICT takes, so `before` is `after − 1`;
 * - ok (ending a run, or a credential's first call): the run is read under FOR UPDATE, then reset;
 *   `counted` when recordSteadySuccess already wrote the bucket;
 * - unknown: the run is read, not changed.
 */
export async function recordOutcome(trx: Executor, o: Outcome, opts: { counted?: boolean } = {}): Promise<{ before: number; after: number }> {
  if (!opts.counted) await dayUpsert(trx, o).execute();

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
