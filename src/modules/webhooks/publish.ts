import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';

export const DELIVERIES_CHANNEL = 'gatehouse_deliveries';

export interface EventInput {
  type: string;
  payload: unknown;
  idempotencyKey?: string | null;
  /** Default: every enabled endpoint whose filter takes the type. */
  target?: { endpointId: string } | 'broadcast';
}

export interface Published {
  eventId: string;
  /** An earlier event had the same idempotency key: its id is returned and nothing is written. */
  duplicate: boolean;
  deliveries: string[];
}

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
        : sql`(${type} = any(e.events) or '*' = any(e.events)
            or exists (select 1 from unnest(e.events) f where f like '%.*' and starts_with(${type}, left(f, -1))))`;
  const result = await sql<{ event_id: string | null; deliveries: string[] | null }>`
    with ev as (
      insert into events (id, workspace_id, type, payload, idempotency_key)
      values (${id}, ${workspaceId}, ${type}, ${JSON.stringify(input.payload ?? {})}::jsonb, ${input.idempotencyKey ?? null})
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
