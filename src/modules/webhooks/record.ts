import { sql, type Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { publish } from './publish.js';
import { createGroupCommit } from '../../lib/group-commit.js';

/** Upper bounds (ms) of the latency histogram kept per endpoint and period; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];
export const bucketOf = (ms: number) => {
  const i = LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
};

export interface AttemptRecord {
  deliveryId: string;
  workspaceId: string;
  endpointId: string;
  eventId: string;
  attempt: number;
  url: string;
  requestHeaders: Record<string, string>;
  status: number | null;
  responseBody: string | null;
  durationMs: number;
  error: string | null;
  /** succeeded; retrying (with nextAttemptAt); failed (dead-lettered) */
  outcome: 'succeeded' | 'retrying' | 'failed';
  nextAttemptAt: Date | null;
  /** Why the endpoint must be disabled now (410 Gone); the failing-too-long rule is checked here. */
  disable?: string;
}

/**
 * Records attempts with group commit: each call joins the batch being gathered while the previous
 * one commits, so under load one transaction records many attempts and every endpoint's counters
 * and roll-up row are touched once per batch instead of once per attempt (those rows are shared by
 * all deliveries to an endpoint, so per-attempt updates would queue on their locks). A call resolves
 * once its attempt is committed. Endpoints disabled by the batch are returned with their reason.
 */
export function createAttemptRecorder(db: Kysely<DB>, workerId: string, disableAfterS: number) {
  const submit = createGroupCommit(async (batch: AttemptRecord[]) => {
    const disabled = await db.transaction().execute((trx) => writeBatch(trx, workerId, batch, disableAfterS));
    return batch.map((r) => disabled.get(r.endpointId) ?? null);
  });
  return { record: (r: AttemptRecord): Promise<string | null> => submit(r) };
}

interface EndpointSums {
  workspaceId: string;
  url: string;
  total: number;
  succeeded: number;
  durationSum: number;
  buckets: number[];
  lastOk: boolean;
  anyOk: boolean;
  gone?: string;
  last: AttemptRecord;
}

/**
 * One batch in one transaction: the attempt rows; each delivery's new state (only while this worker
 * still holds it: if its lease ran out and another worker took it over, the attempt is logged all
 * the same); per endpoint, its counters and the 5-minute roll-up as SQL increments; and, when an
 * endpoint answered 410 or has failed continuously for longer than `disableAfterS`, its disabling
 * with a `gatehouse.endpoint.disabled` event.
 */
async function writeBatch(trx: Executor, workerId: string, all: AttemptRecord[], disableAfterS: number): Promise<Map<string, string>> {
  // An endpoint deleted while its delivery was in flight takes the delivery with it: that attempt
  // has nothing left to be recorded against, and must not fail the batch for the others. The rest
  // are locked against deletion until this commits.
  const present = await sql<{ id: string }>`
    select id from webhook_deliveries where id = any(${all.map((r) => r.deliveryId)}::text[]) for key share`.execute(trx);
  const kept = new Set(present.rows.map((r) => r.id));
  const records = all.filter((r) => kept.has(r.deliveryId));
  if (records.length === 0) return new Map();
  await trx
    .insertInto('webhook_attempts')
    .values(records.map((r) => ({
      delivery_id: r.deliveryId,
      endpoint_id: r.endpointId,
      workspace_id: r.workspaceId,
      attempt: r.attempt,
      worker_id: workerId,
      url: r.url,
      request_headers: JSON.stringify(r.requestHeaders),
      response_status: r.status,
      response_body: r.responseBody,
      duration_ms: r.durationMs,
      error: r.error,
      outcome: r.outcome,
      next_attempt_at: r.nextAttemptAt,
    })))
    .execute();

  const now = new Date();
  const rows = records.map((r) => sql`(${r.deliveryId}, ${r.outcome === 'succeeded' ? 'succeeded' : r.outcome === 'retrying' ? 'pending' : 'dead'},
    ${r.nextAttemptAt ?? now}::timestamptz, ${r.outcome === 'retrying' ? null : now}::timestamptz, ${r.status}::int, ${r.error}::text)`);
  await sql`
    update webhook_deliveries d set status = v.status, next_attempt_at = v.next_at, finished_at = v.finished_at,
      locked_by = null, locked_until = null, last_status = v.last_status, last_error = v.last_error
    from (values ${sql.join(rows)}) as v(id, status, next_at, finished_at, last_status, last_error)
    where d.id = v.id and d.locked_by = ${workerId}`.execute(trx);

  const sums = new Map<string, EndpointSums>();
  for (const r of records) {
    const ok = r.outcome === 'succeeded';
    let s = sums.get(r.endpointId);
    if (!s) {
      s = { workspaceId: r.workspaceId, url: r.url, total: 0, succeeded: 0, durationSum: 0, buckets: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0), lastOk: ok, anyOk: false, last: r };
      sums.set(r.endpointId, s);
    }
    s.total++;
    if (ok) s.succeeded++;
    s.durationSum += r.durationMs;
    s.buckets[bucketOf(r.durationMs)]++;
    s.lastOk = ok;
    s.anyOk ||= ok;
    s.last = r;
    if (r.disable) s.gone = r.disable;
  }

  const disabled = new Map<string, string>();
  // A fixed order, so two workers' batches lock shared endpoint rows in the same order.
  for (const [endpointId, s] of [...sums].sort(([a], [b]) => a.localeCompare(b))) {
    const endpoint = await trx
      .updateTable('webhook_endpoints')
      .set({
        total: sql`total + ${s.total}`,
        succeeded: sql`succeeded + ${s.succeeded}`,
        failed: sql`failed + ${s.total - s.succeeded}`,
        last_called_at: sql`now()`,
        // Failing since the first failure after the last success; a success ends the run.
        failing_since: s.lastOk ? null : s.anyOk ? sql`now()` : sql`coalesce(failing_since, now())`,
      })
      .where('id', '=', endpointId)
      .returning(['enabled', sql<boolean>`failing_since < now() - make_interval(secs => ${disableAfterS})`.as('failing_too_long')])
      .executeTakeFirst();
    await sql`
      insert into webhook_stats (workspace_id, endpoint_id, period, attempts, succeeded, failed, latency_sum_ms, latency_buckets)
      values (${s.workspaceId}, ${endpointId}, date_bin('5 minutes', now(), timestamptz '2000-01-01'), ${s.total}, ${s.succeeded},
        ${s.total - s.succeeded}, ${s.durationSum}, ${s.buckets}::bigint[])
      on conflict (workspace_id, endpoint_id, period) do update set
        attempts = webhook_stats.attempts + excluded.attempts,
        succeeded = webhook_stats.succeeded + excluded.succeeded,
        failed = webhook_stats.failed + excluded.failed,
        latency_sum_ms = webhook_stats.latency_sum_ms + excluded.latency_sum_ms,
        latency_buckets = (select array_agg(a + b order by i) from unnest(webhook_stats.latency_buckets, excluded.latency_buckets) with ordinality as u(a, b, i))`.execute(trx);

    const reason = s.gone ?? (endpoint?.failing_too_long ? `failing continuously for more than ${formatSpan(disableAfterS)}` : null);
    if (!reason || !endpoint?.enabled) continue;
    await trx.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason, updated_at: new Date() }).where('id', '=', endpointId).execute();
    await publish(trx, s.workspaceId, {
      type: 'gatehouse.endpoint.disabled',
      payload: { endpoint_id: endpointId, url: s.url, reason, last_status: s.last.status, last_error: s.last.error },
    });
    disabled.set(endpointId, reason);
  }
  return disabled;
}

/** A span as people read it in a reason: '90 s', '45 min', '5 d'. */
export function formatSpan(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
