import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';

export const DELIVERIES_CHANNEL = 'gatehouse_deliveries';

/** Wakes every delivery worker (sent at commit): deliveries became claimable other than by a publish. */
export const wakeDeliveryWorkers = (trx: Executor) => sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`.execute(trx);

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
}

/** SQL: endpoint `e`'s filter takes the event type `type` (exactly, by `prefix.*`, or by `*`). */
const filterTakes = (type: RawBuilder<unknown>) =>
  sql`(${type} = any(e.events) or '*' = any(e.events)
    or exists (select 1 from unnest(e.events) f where f like '%.*' and starts_with(${type}, left(f, -1))))`;

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
 * nothing and answers the first event's id. Results are in the order of `events`.
 */
export async function publishMany(db: Executor, events: WorkspaceEvent[]): Promise<Published[]> {
  if (events.length === 0) return [];
  const input = events.map((e, ord) => ({
    ord, id: newId('msg'), workspace_id: e.workspaceId, type: e.type, payload: e.payload ?? {}, idempotency_key: e.idempotencyKey ?? null,
    trace_parent: e.traceParent ?? null, endpoint_id: typeof e.target === 'object' ? e.target.endpointId : null, broadcast: e.target === 'broadcast',
  }));
  // Inserted in key order, so concurrent batches repeating the same keys queue on one another
  // instead of deadlocking; `ord` last keeps the batch's first use of a key the one that wins.
  const result = await sql<{ id: string; deliveries: string[] }>`/* prepared */
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as x(ord int, id text, workspace_id text, type text, payload jsonb, idempotency_key text, trace_parent text, endpoint_id text, broadcast boolean)
    ),
    ev as (
      insert into events (id, workspace_id, type, payload, idempotency_key, trace_parent)
      select id, workspace_id, type, payload, idempotency_key, trace_parent from input order by workspace_id, idempotency_key, ord
      on conflict (workspace_id, idempotency_key) do nothing
      returning id
    ),
    eps as (
      select i.id as event_id, i.workspace_id, e.id as endpoint_id, e.max_retries, row_number() over (partition by i.id order by e.id) as n
      from ev join input i on i.id = ev.id
      join webhook_endpoints e on e.workspace_id = i.workspace_id and e.enabled
        and (i.broadcast or e.id = i.endpoint_id or (i.endpoint_id is null and ${filterTakes(sql`i.type`)}))
    ),
    ins as (
      insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, max_attempts)
      select 'dlv_' || substr(event_id, 5) || '_' || n, workspace_id, endpoint_id, event_id, max_retries + 1 from eps
      returning id, event_id
    ),
    woken as (select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins limit 1) x),
    per_event as (select event_id, array_agg(id order by id) as ids from ins group by event_id)
    select ev.id, coalesce(per_event.ids, '{}') as deliveries, (select count(*) from woken) as woken
    from ev left join per_event on per_event.event_id = ev.id`.execute(db);
  const fresh = new Map(result.rows.map((r) => [r.id, r.deliveries]));
  const keyOf = (e: (typeof input)[number]) => `${e.workspace_id}|${e.idempotency_key}`;
  // Only a key can conflict, so every event not inserted is a repeat of one.
  const repeats = [...new Map(input.filter((e) => !fresh.has(e.id)).map((e) => [keyOf(e), e])).values()];
  const firsts = new Map<string, string>();
  if (repeats.length > 0) {
    const found = await db
      .selectFrom('events')
      .select(['id', 'workspace_id', 'idempotency_key'])
      .where((eb) => eb.or(repeats.map((r) => eb.and([eb('workspace_id', '=', r.workspace_id), eb('idempotency_key', '=', r.idempotency_key)]))))
      .execute();
    for (const f of found) firsts.set(`${f.workspace_id}|${f.idempotency_key}`, f.id);
  }
  // A first deleted since the insert (retention) freed its key: the repeat is published anew rather
  // than failed, as the rest of the batch is already written and a caller retrying the whole batch
  // (group commit does, item by item) would publish it twice.
  const vanished = events.filter((_, i) => !fresh.has(input[i].id) && !firsts.has(keyOf(input[i])));
  const anew = vanished.length > 0 ? await publishMany(db, vanished) : [];
  return input.map((e) => {
    const deliveries = fresh.get(e.id);
    if (deliveries) return { eventId: e.id, duplicate: false, deliveries };
    const first = firsts.get(keyOf(e));
    return first ? { eventId: first, duplicate: true, deliveries: [] } : anew.shift()!;
  });
}
