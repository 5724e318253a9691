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
    const disabled = await recordBatch(db, workerId, batch, disableAfterS);
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
 * ASYNC_COMMIT. Claims and attempt records commit without waiting for their WAL record to be
 * flushed: this is delivery bookkeeping, which at-least-once delivery makes safe to lose. Were the
 * database server to crash within the WAL writer's delay (a fraction of a second), a lost claim or
 * attempt record only means the message is sent again (same webhook-id), never that one is lost.
 * Accepting an event keeps the full commit: its 202 means committed. Waiting for the flush was most
 * of a claim's and a record's time under load. A 410's disable shares its attempt's transaction, so
 * it commits so too: if lost, the next 410 disables the endpoint again.
 *
 * One batch, one statement (so one round trip, one plan and one commit), whatever its size and
 * however many endpoints it touches: under load the number of statements, not the rows, is what
 * costs. A 410 disables its endpoint in the same transaction as the attempt that saw it; an
 * endpoint found failing for longer than `disableAfterS` is disabled just after (re-checked then,
 * and found again by the next batch were that to fail). Returns the endpoints disabled, with why.
 */
async function recordBatch(db: Kysely<DB>, workerId: string, all: AttemptRecord[], disableAfterS: number): Promise<Map<string, string>> {
  const sums = sumByEndpoint(all);
  if (all.some((r) => r.disable)) {
    return db.transaction().execute(async (trx) => disableWhereDue(trx, sums, await writeBatch(trx, workerId, all, sums, disableAfterS), disableAfterS));
  }
  const counted = await writeBatch(db, workerId, all, sums, disableAfterS);
  if (!counted.some((c) => c.enabled && c.failing_too_long)) return new Map();
  return db.transaction().execute((trx) => disableWhereDue(trx, sums, counted, disableAfterS));
}

/**
 * Logs the attempts and sets each delivery's new state (only while this worker still holds it: if
 * its lease ran out and another worker took it over, the attempt is logged all the same), and adds
 * to each endpoint's counters and its 5-minute roll-up, as SQL increments. An attempt whose delivery
 * is gone (its endpoint deleted meanwhile) is not logged, and its endpoint has no counters to add to.
 */
async function writeBatch(db: Executor, workerId: string, all: AttemptRecord[], sums: Map<string, EndpointSums>, disableAfterS: number) {
  const now = new Date().toISOString();
  const attempts = all.map((r) => ({
    delivery_id: r.deliveryId,
    endpoint_id: r.endpointId,
    workspace_id: r.workspaceId,
    attempt: r.attempt,
    url: r.url,
    request_headers: r.requestHeaders,
    response_status: r.status,
    response_body: r.responseBody,
    duration_ms: r.durationMs,
    error: r.error,
    outcome: r.outcome,
    next_attempt_at: r.nextAttemptAt?.toISOString() ?? null,
    status: r.outcome === 'succeeded' ? 'succeeded' : r.outcome === 'retrying' ? 'pending' : 'dead',
    next_at: r.nextAttemptAt?.toISOString() ?? now,
    finished_at: r.outcome === 'retrying' ? null : now,
  }));
  // An endpoint deleted while its delivery was in flight takes the delivery with it: that attempt
  // has nothing left to be recorded against, and must not fail the batch for the others. The rest
  // are locked against deletion until this commits, so every delivery the update finds was logged.
  // Each id is looked up by its own primary-key probe, and the update takes the ids again as an
  // array: a join on the recordset (estimated at 100 rows) may become a scan of every delivery, and
  // a join on a CTE's rows compares every row with every other (a batch of 400 spent 14 ms so).
  const ids = all.map((r) => r.deliveryId);
  const rows = [...sums].map(([endpointId, s]) => ({
    endpoint_id: endpointId, workspace_id: s.workspaceId, total: s.total, succeeded: s.succeeded, duration_sum: s.durationSum,
    buckets: s.buckets, last_ok: s.lastOk, any_ok: s.anyOk,
  }));
  // Endpoint rows are locked in id order, so two workers' batches never wait on each other in a
  // cycle; the roll-up reads the counters' RETURNING, so it runs after them, under those locks.
  const counted = await sql<{ id: string; enabled: boolean; failing_too_long: boolean }>`/* prepared */
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(attempts)}::jsonb) as x(delivery_id text, endpoint_id text, workspace_id text,
        attempt int, url text, request_headers jsonb, response_status int, response_body text, duration_ms int, error text, outcome text,
        next_attempt_at timestamptz, status text, next_at timestamptz, finished_at timestamptz)
    ),
    present as (
      select x.id from unnest(${ids}::text[]) as u(id)
      cross join lateral (select id from webhook_deliveries where id = u.id for key share) x
    ),
    logged as (
      insert into webhook_attempts (delivery_id, endpoint_id, workspace_id, attempt, worker_id, url, request_headers, response_status,
        response_body, duration_ms, error, outcome, next_attempt_at)
      select i.delivery_id, i.endpoint_id, i.workspace_id, i.attempt, ${workerId}, i.url, i.request_headers, i.response_status,
        i.response_body, i.duration_ms, i.error, i.outcome, i.next_attempt_at
      from input i join present p on p.id = i.delivery_id
      returning delivery_id
    ),
    moved as (
      update webhook_deliveries d set status = i.status, next_attempt_at = i.next_at, finished_at = i.finished_at,
        locked_by = null, locked_until = null, last_status = i.response_status, last_error = i.error
      from input i where d.id = any(${ids}::text[]) and d.id = i.delivery_id and d.locked_by = ${workerId}
        -- Read from logged so that it runs first: its share lock skips a row this update already changed.
        and d.id in (select delivery_id from logged)
    ),
    sums as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(endpoint_id text, workspace_id text, total int, succeeded int,
        duration_sum bigint, buckets bigint[], last_ok boolean, any_ok boolean)
    ),
    locked as (select id from webhook_endpoints where id = any(${[...sums.keys()]}::text[]) order by id for no key update),
    counted as (
      update webhook_endpoints e set total = e.total + s.total, succeeded = e.succeeded + s.succeeded,
        failed = e.failed + (s.total - s.succeeded), last_called_at = now(),
        -- Failing since the first failure after the last success; a success ends the run.
        failing_since = case when s.last_ok then null when s.any_ok then now() else coalesce(e.failing_since, now()) end
      from sums s where e.id = s.endpoint_id and e.id in (select id from locked)
      returning e.id, e.enabled, e.failing_since < now() - make_interval(secs => ${disableAfterS}) as failing_too_long
    ),
    rolled as (
      insert into webhook_stats (workspace_id, endpoint_id, period, attempts, succeeded, failed, latency_sum_ms, latency_buckets)
      select s.workspace_id, s.endpoint_id, date_bin('5 minutes', now(), timestamptz '2000-01-01'), s.total, s.succeeded,
        s.total - s.succeeded, s.duration_sum, s.buckets
      from sums s join counted c on c.id = s.endpoint_id
      order by s.endpoint_id
      on conflict (workspace_id, endpoint_id, period) do update set
        attempts = webhook_stats.attempts + excluded.attempts,
        succeeded = webhook_stats.succeeded + excluded.succeeded,
        failed = webhook_stats.failed + excluded.failed,
        latency_sum_ms = webhook_stats.latency_sum_ms + excluded.latency_sum_ms,
        latency_buckets = (select array_agg(a + b order by i) from unnest(webhook_stats.latency_buckets, excluded.latency_buckets) with ordinality as u(a, b, i))
    )
    select id, enabled, failing_too_long from counted
    -- Asynchronous commit (its own transaction when alone): see ASYNC_COMMIT.
    where set_config('synchronous_commit', 'off', true) is not null
    order by id`.execute(db);
  return counted.rows;
}

/** Disables, with its `gatehouse.endpoint.disabled` event, each enabled endpoint that answered 410 or failed too long. */
async function disableWhereDue(trx: Executor, sums: Map<string, EndpointSums>, counted: Array<{ id: string; enabled: boolean; failing_too_long: boolean }>, disableAfterS: number) {
  const disabled = new Map<string, string>();
  for (const endpoint of counted) {
    const s = sums.get(endpoint.id)!;
    const reason = s.gone ?? (endpoint.failing_too_long ? `failing continuously for more than ${formatSpan(disableAfterS)}` : null);
    if (!reason || !endpoint.enabled) continue;
    // Still enabled now? (another worker's batch may have disabled it since the counters were read)
    const turnedOff = await trx.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason, updated_at: new Date() })
      .where('id', '=', endpoint.id).where('enabled', '=', true).executeTakeFirst();
    if (turnedOff.numUpdatedRows === 0n) continue;
    await publish(trx, s.workspaceId, {
      type: 'gatehouse.endpoint.disabled',
      payload: { endpoint_id: endpoint.id, url: s.url, reason, last_status: s.last.status, last_error: s.last.error },
    });
    disabled.set(endpoint.id, reason);
  }
  return disabled;
}

function sumByEndpoint(records: AttemptRecord[]): Map<string, EndpointSums> {
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
  return sums;
}

/** A span as people read it in a reason: '90 s', '45 min', '5 d'. */
export function formatSpan(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
