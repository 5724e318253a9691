import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { ownEvent } from './catalog.js';
import { publish } from './publish.js';
import { createGroupCommit } from '../../lib/group-commit.js';
import { disableEndpoint, recordAttempts, type AttemptRow } from './store-deliveries.js';

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
  const attempts = all.map((r): AttemptRow => ({
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
  const ids = all.map((r) => r.deliveryId);
  const rows = [...sums].map(([endpointId, s]) => ({
    endpoint_id: endpointId, workspace_id: s.workspaceId, total: s.total, succeeded: s.succeeded, duration_sum: s.durationSum,
    buckets: s.buckets, last_ok: s.lastOk, any_ok: s.anyOk,
  }));
  return recordAttempts(db, workerId, attempts, ids, rows, [...sums.keys()], disableAfterS);
}

/** Disables, with its `gatehouse.endpoint.disabled` event, each enabled endpoint that answered 410 or failed too long. */
async function disableWhereDue(trx: Executor, sums: Map<string, EndpointSums>, counted: Array<{ id: string; enabled: boolean; failing_too_long: boolean }>, disableAfterS: number) {
  const disabled = new Map<string, string>();
  for (const endpoint of counted) {
    const s = sums.get(endpoint.id)!;
    const reason = s.gone ?? (endpoint.failing_too_long ? `failing continuously for more than ${formatSpan(disableAfterS)}` : null);
    if (!reason || !endpoint.enabled) continue;
    // Still enabled now? (another worker's batch may have disabled it since the counters were read)
    if (!(await disableEndpoint(trx, endpoint.id, reason))) continue;
    await publish(trx, s.workspaceId, ownEvent('gatehouse.endpoint.disabled',
      { endpoint_id: endpoint.id, url: s.url, reason, last_status: s.last.status, last_error: s.last.error }));
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
