import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';

export const DELIVERIES_CHANNEL = 'gatehouse_deliveries';

export interface EventInput {
  type: string;
  payload: unknown;
  idempotencyKey?: string | null;
  /** Default: every enabled endpoint whose filter takes the type. */
  target?: { endpointId: string } | 'broadcast';
  /** The accepting request's trace, continued by each delivery attempt. */
  traceParent?: string | null;
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

/**
 * The event and one delivery per chosen endpoint in ONE statement (atomic on its own, or part of
 * the caller's transaction), so an accepted event always has its deliveries (transactional outbox)
 * and accepting one costs a single round trip. The NOTIFY that wakes the delivery workers goes out
 * at commit. An endpoint's filter takes a type exactly, by `prefix.*` or by `*`; a targeted
 * endpoint gets the event whatever its filter; a disabled one gets none. A delivery's id is its
 * event's (time-ordered) with the endpoint's ordinal, so deliveries sort by event time.
 */
export async function publish(db: Executor, workspaceId: string, input: EventInput): Promise<Published> {
  const id = newId('msg');
  const { type } = input;
  const chosen =
    input.target === 'broadcast'
      ? sql`true`
      : input.target
        ? sql`e.id = ${input.target.endpointId}`
        : filterTakes(sql`${type}`);
  const result = await sql<{ event_id: string | null; deliveries: string[] | null }>`
    with ev as (
      insert into events (id, workspace_id, type, payload, idempotency_key, trace_parent)
      values (${id}, ${workspaceId}, ${type}, ${JSON.stringify(input.payload ?? {})}::jsonb, ${input.idempotencyKey ?? null}, ${input.traceParent ?? null})
      on conflict (workspace_id, idempotency_key) do nothing
      returning id
    ),
    eps as (
      select e.id, e.max_retries, row_number() over (order by e.id) as n
      from webhook_endpoints e
      where e.workspace_id = ${workspaceId} and e.enabled and ${chosen}
    ),
    ins as (
      insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, max_attempts)
      select 'dlv_' || substr(ev.id, 5) || '_' || eps.n, ${workspaceId}, eps.id, ev.id, eps.max_retries + 1
      from ev, eps
      returning id
    ),
    woken as (select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins limit 1) x)
    select (select id from ev) as event_id, (select array_agg(id order by id) from ins) as deliveries, (select count(*) from woken) as woken`.execute(db);
  const row = result.rows[0];
  if (row?.event_id) return { eventId: row.event_id, duplicate: false, deliveries: row.deliveries ?? [] };
  const first = await db
    .selectFrom('events')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('idempotency_key', '=', input.idempotencyKey!)
    .executeTakeFirstOrThrow();
  return { eventId: first.id, duplicate: true, deliveries: [] };
}

export interface BatchEvent {
  workspaceId: string;
  type: string;
  payload: unknown;
  idempotencyKey: string;
}

/**
 * Many events (of any workspaces) with their deliveries to the endpoints whose filters take them,
 * in ONE statement: what `publish` does for one event, at the cost of one round trip for all. Each
 * needs an idempotency key; a repeat creates nothing. Returns each event's id, in order (the first
 * event's id for a repeat).
 */
export async function publishMany(db: Executor, events: BatchEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const input = events.map((e) => ({ id: newId('msg'), workspace_id: e.workspaceId, type: e.type, payload: e.payload ?? {}, idempotency_key: e.idempotencyKey }));
  const result = await sql<{ inserted: string[] | null }>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb) as x(id text, workspace_id text, type text, payload jsonb, idempotency_key text)
    ),
    ev as (
      insert into events (id, workspace_id, type, payload, idempotency_key)
      select id, workspace_id, type, payload, idempotency_key from input
      on conflict (workspace_id, idempotency_key) do nothing
      returning id, workspace_id, type
    ),
    eps as (
      select ev.id as event_id, ev.workspace_id, e.id as endpoint_id, e.max_retries, row_number() over (partition by ev.id order by e.id) as n
      from ev join webhook_endpoints e on e.workspace_id = ev.workspace_id and e.enabled and ${filterTakes(sql`ev.type`)}
    ),
    ins as (
      insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, max_attempts)
      select 'dlv_' || substr(event_id, 5) || '_' || n, workspace_id, endpoint_id, event_id, max_retries + 1 from eps
      returning id
    ),
    woken as (select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins limit 1) x)
    select (select array_agg(id) from ev) as inserted, (select count(*) from woken) as woken`.execute(db);
  const inserted = new Set(result.rows[0]?.inserted ?? []);
  const repeats = input.filter((e) => !inserted.has(e.id));
  const firsts = new Map<string, string>();
  if (repeats.length > 0) {
    const found = await db
      .selectFrom('events')
      .select(['id', 'workspace_id', 'idempotency_key'])
      .where((eb) => eb.or(repeats.map((r) => eb.and([eb('workspace_id', '=', r.workspace_id), eb('idempotency_key', '=', r.idempotency_key)]))))
      .execute();
    for (const f of found) firsts.set(`${f.workspace_id}|${f.idempotency_key}`, f.id);
  }
  return input.map((e) => (inserted.has(e.id) ? e.id : (firsts.get(`${e.workspace_id}|${e.idempotency_key}`) ?? e.id)));
}
