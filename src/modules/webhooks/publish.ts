import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';
import type { ClaimedDelivery } from './queue.js';

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
  /** Deliveries written already leased to the hand-off's worker, with what their first attempt needs. */
  leased?: ClaimedDelivery[];
}

/**
 * A delivery worker's offer to take new deliveries as they are written, already leased to it, so
 * their first attempt needs no claim (a statement, a plan and a round trip per batch) and no wake-up.
 * It takes at most `slots`, and of one workspace at most `cap` minus what it `held` already; an
 * endpoint still gets no more than its max_in_flight of open requests, counted across workers.
 * What it cannot take is written pending, for any worker to claim as usual.
 */
export interface HandOff {
  workerId: string;
  slots: number;
  cap: number;
  held: Record<string, number>;
  leaseMarginMs: number;
  /** This worker's answered, unrecorded deliveries: not open requests (see claimDeliveries). */
  answered: string[];
}

/** A worker's offer of its idle slots for one write (see HandOff); `take` runs what was leased to it. */
export type DeliveryOffer = () => { handOff: HandOff; take(leased: ClaimedDelivery[]): void } | null;

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
 * nothing and answers the first event's id. Results are in the order of `events`. With `handOff`,
 * deliveries are written leased to its worker as far as it has room (see HandOff).
 */
export async function publishMany(db: Executor, events: WorkspaceEvent[], handOff?: HandOff): Promise<Published[]> {
  if (events.length === 0) return [];
  const input = events.map((e, ord) => ({
    ord, id: newId('msg'), workspace_id: e.workspaceId, type: e.type, payload: e.payload ?? {}, idempotency_key: e.idempotencyKey ?? null,
    trace_parent: e.traceParent ?? null, endpoint_id: typeof e.target === 'object' ? e.target.endpointId : null, broadcast: e.target === 'broadcast',
  }));
  // Inserted in key order, so concurrent batches repeating the same keys queue on one another
  // instead of deadlocking; `ord` last keeps the batch's first use of a key the one that wins.
  const lease = handOff ?? { workerId: '', slots: 0, cap: 0, held: {}, leaseMarginMs: 0, answered: [] };
  const result = await sql<{ id: string; created_at: Date; payload: unknown; deliveries: string[]; leased: LeasedRow[] | null }>`/* prepared */
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as x(ord int, id text, workspace_id text, type text, payload jsonb, idempotency_key text, trace_parent text, endpoint_id text, broadcast boolean)
    ),
    ev as (
      insert into events (id, workspace_id, type, payload, idempotency_key, trace_parent)
      select id, workspace_id, type, payload, idempotency_key, trace_parent from input order by workspace_id, idempotency_key, ord
      on conflict (workspace_id, idempotency_key) do nothing
      returning id, created_at, payload
    ),
    eps as (
      select i.id as event_id, i.workspace_id, e.id as endpoint_id, e.max_retries, e.max_in_flight, e.timeout_s, e.url, e.headers,
        row_number() over (partition by i.id order by e.id) as n,
        row_number() over (partition by e.id order by i.id) as on_endpoint,
        row_number() over (partition by i.workspace_id order by i.id, e.id) as on_workspace,
        row_number() over (order by i.id, e.id) as overall
      from ev join input i on i.id = ev.id
      join webhook_endpoints e on e.workspace_id = i.workspace_id and e.enabled
        and (i.broadcast or e.id = i.endpoint_id or (i.endpoint_id is null and ${filterTakes(sql`i.type`)}))
    ),
    busy as (
      select endpoint_id, count(*)::int as n from webhook_deliveries
      where ${lease.slots}::int > 0 and status = 'delivering' and endpoint_id in (select endpoint_id from eps)
        and id <> all(${lease.answered}::text[])
      group by endpoint_id
    ),
    chosen as (
      select eps.*, 'dlv_' || substr(eps.event_id, 5) || '_' || eps.n as id, ${lease.slots}::int > 0 and overall <= ${lease.slots}::int
        and on_endpoint + coalesce(b.n, 0) <= eps.max_in_flight
        and on_workspace + coalesce((${JSON.stringify(lease.held)}::jsonb ->> eps.workspace_id)::int, 0) <= ${lease.cap}::int as leased
      from eps left join busy b on b.endpoint_id = eps.endpoint_id
    ),
    ins as (
      insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, max_attempts, status, attempts, locked_by, locked_until)
      select id, workspace_id, endpoint_id, event_id, max_retries + 1,
        case when leased then 'delivering' else 'pending' end, case when leased then 1 else 0 end,
        case when leased then ${lease.workerId} end,
        case when leased then now() + make_interval(secs => timeout_s + ${lease.leaseMarginMs / 1000}) end
      from chosen
      returning id, event_id, status
    ),
    -- Only deliveries left for a claim need a worker woken.
    woken as (select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins where status = 'pending' limit 1) x),
    per_event as (
      select ins.event_id, array_agg(ins.id order by ins.id) as ids,
        jsonb_agg(jsonb_build_object('id', ins.id, 'endpoint_id', c.endpoint_id, 'max_attempts', c.max_retries + 1, 'url', c.url,
          'timeout_s', c.timeout_s, 'headers', c.headers)) filter (where ins.status = 'delivering') as leased
      from ins join chosen c on c.id = ins.id
      group by ins.event_id
    )
    -- The payload as stored (jsonb's own key order): every attempt of a message sends the same bytes.
    select ev.id, ev.created_at, case when per_event.leased is not null then ev.payload end as payload,
      coalesce(per_event.ids, '{}') as deliveries, per_event.leased, (select count(*) from woken) as woken
    from ev left join per_event on per_event.event_id = ev.id`.execute(db);
  const fresh = new Map(result.rows.map((r) => [r.id, r.deliveries]));
  const leasedOf = new Map(result.rows.filter((r) => r.leased).map((r) => [r.id, r]));
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
    const row = leasedOf.get(e.id);
    if (deliveries && row) return { eventId: e.id, duplicate: false, deliveries, leased: row.leased!.map((l) => claimedOf(e, row, l)) };
    if (deliveries) return { eventId: e.id, duplicate: false, deliveries };
    const first = firsts.get(keyOf(e));
    return first ? { eventId: first, duplicate: true, deliveries: [] } : anew.shift()!;
  });
}

interface LeasedRow {
  id: string;
  endpoint_id: string;
  max_attempts: number;
  url: string;
  timeout_s: number;
  headers: Record<string, string>;
}

/** A delivery leased as it was written, as a claim would have returned it: its first attempt. */
const claimedOf = (e: { id: string; workspace_id: string; type: string; trace_parent: string | null }, row: { created_at: Date; payload: unknown }, l: LeasedRow): ClaimedDelivery => ({
  id: l.id, workspace_id: e.workspace_id, endpoint_id: l.endpoint_id, event_id: e.id, attempts: 1, max_attempts: l.max_attempts,
  event_type: e.type, event_payload: row.payload, event_created_at: new Date(row.created_at), url: l.url, timeout_s: l.timeout_s, headers: l.headers,
  event_trace_parent: e.trace_parent,
});
