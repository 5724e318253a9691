import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';
import type { ClaimedDelivery, HandOff } from './queue.js';
import { eventsByIdempotencyKey, insertEventsWithDeliveries, type LeasedRow } from './store-deliveries.js';

export interface EventInput {
  type: string;
  payload: unknown;
  idempotencyKey?: string | null;
  /** Default: every enabled endpoint whose filter takes the type. */
  target?: { endpointId: string } | 'broadcast';
  /** The accepting request's trace, continued by each delivery attempt. */
  traceParent?: string | null;
}

/** An event of any workspace, for `publishMany`. */
export interface WorkspaceEvent extends EventInput {
  workspaceId: string;
}

export interface Published {
  eventId: string;
  /** An earlier event had the same idempotency key: its id is returned and nothing is written. */
  duplicate: boolean;
  deliveries: string[];
  /** Deliveries written already leased to the hand-off's worker, with what their first attempt needs. */
  leased?: ClaimedDelivery[];
}

/** One event: `publishMany` of one, in the caller's transaction when given one. */
export async function publish(db: Executor, workspaceId: string, input: EventInput): Promise<Published> {
  const [published] = await publishMany(db, [{ ...input, workspaceId }]);
  return published;
}

/**
 * Events (of any workspaces) and one delivery per chosen endpoint in ONE statement (atomic on its
 * own, or part of the caller's transaction), so an accepted event always has its deliveries
 * (transactional outbox) and accepting any number costs a single round trip. The NOTIFY that wakes
 * the delivery workers goes out at commit, once. An endpoint's filter takes a type exactly, by
 * `prefix.*` or by `*`; a targeted endpoint gets the event whatever its filter; a disabled one gets
 * none. A delivery's id is its event's (time-ordered) with the endpoint's ordinal, so deliveries
 * sort by event time. A repeated idempotency key (earlier, or earlier in this very batch) creates
 * nothing and answers the first event's id. Results are in the order of `events`. With `handOff`,
 * deliveries are written leased to its worker as far as it has room (see HandOff).
 */
export async function publishMany(db: Executor, events: WorkspaceEvent[], handOff?: HandOff): Promise<Published[]> {
  if (events.length === 0) return [];
  const input = events.map((e, ord) => ({
    ord, id: newId('msg'), workspace_id: e.workspaceId, type: e.type, payload: e.payload ?? {}, idempotency_key: e.idempotencyKey ?? null,
    trace_parent: e.traceParent ?? null, endpoint_id: typeof e.target === 'object' ? e.target.endpointId : null, broadcast: e.target === 'broadcast',
  }));
  const lease = handOff ?? { workerId: '', slots: 0, cap: 0, held: {}, leaseMarginMs: 0, answered: [] };
  const rows = await insertEventsWithDeliveries(db, input, lease);
  const fresh = new Map(rows.map((r) => [r.id, r.deliveries]));
  const leasedOf = new Map(rows.filter((r) => r.leased).map((r) => [r.id, r]));
  const keyOf = (e: (typeof input)[number]) => `${e.workspace_id}|${e.idempotency_key}`;
  // Only a key can conflict, so every event not inserted is a repeat of one.
  const repeats = [...new Map(input.filter((e) => !fresh.has(e.id)).map((e) => [keyOf(e), e])).values()];
  const firsts = new Map<string, string>();
  if (repeats.length > 0) {
    const found = await eventsByIdempotencyKey(db, repeats);
    for (const f of found) firsts.set(`${f.workspace_id}|${f.idempotency_key}`, f.id);
  }
  // A first deleted since the insert (retention) freed its key: the repeat is published anew rather
  // than failed, as the rest of the batch is already written and a caller retrying the whole batch
  // (group commit does, item by item) would publish it twice.
  const vanished = events.filter((_, i) => !fresh.has(input[i].id) && !firsts.has(keyOf(input[i])));
  const anew = vanished.length > 0 ? await publishMany(db, vanished) : [];
  return input.map((e) => {
    const deliveries = fresh.get(e.id);
    const row = leasedOf.get(e.id);
    if (deliveries && row?.leased) return { eventId: e.id, duplicate: false, deliveries, leased: row.leased.map((l) => claimedOf(e, row, l)) };
    if (deliveries) return { eventId: e.id, duplicate: false, deliveries };
    const first = firsts.get(keyOf(e));
    return first ? { eventId: first, duplicate: true, deliveries: [] } : anew.shift()!;
  });
}

/** A delivery leased as it was written, as a claim would have returned it: its first attempt. */
const claimedOf = (e: { id: string; workspace_id: string; type: string; trace_parent: string | null }, row: { created_at: Date; payload: unknown }, l: LeasedRow): ClaimedDelivery => ({
  id: l.id, workspace_id: e.workspace_id, endpoint_id: l.endpoint_id, event_id: e.id, attempts: 1, max_attempts: l.max_attempts,
  event_type: e.type, event_payload: row.payload, event_created_at: new Date(row.created_at), url: l.url, timeout_s: l.timeout_s, headers: l.headers,
  event_trace_parent: e.trace_parent,
});
