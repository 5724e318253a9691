import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { publish } from './publish.js';

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
 * One attempt, in one transaction: the attempt row, the delivery's new state, the endpoint's
 * counters and the 5-minute roll-up (all SQL increments), and, when the endpoint has failed
 * continuously for longer than `disableAfterS` or answered 410, its disabling with a
 * `gatehouse.endpoint.disabled` event. The delivery is updated only while this worker still holds
 * it: if its lease ran out and another worker took it over, the attempt is logged all the same.
 */
export async function recordAttempt(db: Kysely<DB>, workerId: string, r: AttemptRecord, disableAfterS: number): Promise<{ disabled: string | null }> {
  const ok = r.outcome === 'succeeded';
  const bucket = bucketOf(r.durationMs) + 1; // Postgres arrays are 1-based
  const zeros = LATENCY_BOUNDS_MS.map(() => 0).concat(0);
  const initial = zeros.map((_, i) => (i + 1 === bucket ? 1 : 0));
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
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
      })
      .execute();
    await trx
      .updateTable('webhook_deliveries')
      .set({
        status: ok ? 'succeeded' : r.outcome === 'retrying' ? 'pending' : 'dead',
        next_attempt_at: r.nextAttemptAt ?? new Date(),
        finished_at: r.outcome === 'retrying' ? null : new Date(),
        locked_by: null,
        locked_until: null,
        last_status: r.status,
        last_error: r.error,
      })
      .where('id', '=', r.deliveryId)
      .where('locked_by', '=', workerId)
      .execute();
    const endpoint = await trx
      .updateTable('webhook_endpoints')
      .set({
        total: sql`total + 1`,
        succeeded: sql`succeeded + ${ok ? 1 : 0}`,
        failed: sql`failed + ${ok ? 0 : 1}`,
        last_called_at: sql`now()`,
        failing_since: ok ? null : sql`coalesce(failing_since, now())`,
      })
      .where('id', '=', r.endpointId)
      .returning(['enabled', sql<boolean>`failing_since < now() - make_interval(secs => ${disableAfterS})`.as('failing_too_long')])
      .executeTakeFirst();
    await sql`
      insert into webhook_stats (workspace_id, endpoint_id, period, attempts, succeeded, failed, latency_sum_ms, latency_buckets)
      values (${r.workspaceId}, ${r.endpointId}, date_bin('5 minutes', now(), timestamptz '2000-01-01'), 1, ${ok ? 1 : 0}, ${ok ? 0 : 1}, ${r.durationMs}, ${initial}::bigint[])
      on conflict (workspace_id, endpoint_id, period) do update set
        attempts = webhook_stats.attempts + 1,
        succeeded = webhook_stats.succeeded + ${ok ? 1 : 0},
        failed = webhook_stats.failed + ${ok ? 0 : 1},
        latency_sum_ms = webhook_stats.latency_sum_ms + ${r.durationMs},
        latency_buckets[${bucket}] = webhook_stats.latency_buckets[${bucket}] + 1`.execute(trx);

    const reason = r.disable ?? (endpoint?.failing_too_long ? `failing continuously for more than ${Math.round(disableAfterS / 3600)} h` : null);
    if (!reason || !endpoint?.enabled) return { disabled: null };
    await trx.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason, updated_at: new Date() }).where('id', '=', r.endpointId).execute();
    await publish(trx, r.workspaceId, {
      type: 'gatehouse.endpoint.disabled',
      payload: { endpoint_id: r.endpointId, url: r.url, reason, last_status: r.status, last_error: r.error },
    });
    return { disabled: reason };
  });
}
