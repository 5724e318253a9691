import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { QueueTable } from '../../queue/table.js';

/** A claimed delivery with what one attempt needs. */
export interface ClaimedDelivery {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  max_attempts: number;
  event_type: string;
  event_payload: unknown;
  event_created_at: Date;
  url: string;
  timeout_s: number;
  headers: Record<string, string>;
  event_trace_parent: string | null;
}

/**
 * A worker's share rule: at most `cap` deliveries of one workspace at once, and up to `borrowCap`
 * while the worker has a share's worth of slots to spare; `held` is what it holds now, by workspace.
 */
export interface WorkspaceShares {
  cap: number;
  borrowCap?: number;
  held: ReadonlyMap<string, number>;
}

/** The deliveries table as the queue sees it. */
export const DELIVERIES_TABLE: QueueTable = {
  table: 'webhook_deliveries', due: 'next_attempt_at', waiting: 'pending', held: 'delivering', dead: 'dead', maxAttempts: 'max_attempts', finishedAt: 'finished_at',
};

/**
 * Anything due for an enabled endpoint? One index lookup per endpoint, so an idle worker's poll
 * (every second, every 10 s on the embedded database) costs next to nothing.
 */
export async function anyDeliveryDue(db: Kysely<DB>): Promise<boolean> {
  // Endpoint by endpoint through the (endpoint, due time) index, whatever the statistics say: as
  // an EXISTS, a plan made while one endpoint's backlog filled the sample scanned every pending
  // delivery, and a statement without parameters keeps its first plan on a connection.
  const due = await sql`/* prepared */ select 1 from webhook_endpoints e cross join lateral (
    select 1 from webhook_deliveries d where d.endpoint_id = e.id and d.status = 'pending' and d.next_attempt_at <= now() limit 1) d
    where e.enabled limit 1`.execute(db);
  return due.rows.length > 0;
}

/**
 * Claims up to `limit` due deliveries with a lease, in one statement. Fairness: every enabled
 * endpoint gets at most its free slots (max_in_flight minus the requests open to it now, from any
 * worker), oldest due first, so a slow endpoint's backlog occupies only its own slots and never
 * starves the others. A lease lasts the endpoint's own timeout plus a margin: a killed worker's
 * deliveries to a 5 s endpoint come back within seconds, not after the longest timeout any
 * endpoint may have.
 *
 * Between workspaces (`workspaces`): each gets its share, `cap` minus what this worker already
 * holds of it, so one workspace's hanging endpoints can take only its share of this worker's slots;
 * and the claim takes turns, every workspace's first due delivery before anyone's second, and within
 * a workspace each endpoint's first before any endpoint's second. Beyond its share a workspace may
 * use idle slots, up to `borrowCap`, as long as `cap` slots stay free for any workspace under its
 * share: a tenant alone is not held to its share, and another's first delivery still finds a slot.
 *
 * A delivery stays leased until its attempt is recorded, but `answered` (ids of this worker's
 * deliveries answered and not yet recorded) are no longer requests to the endpoint: they do not take
 * its slots, so its next requests need not wait for the previous ones' commit. By id, not by count:
 * one recorded meanwhile is not 'delivering' any more and must not be taken off twice.
 */
export async function claimDeliveries(db: Kysely<DB>, workerId: string, limit: number, leaseMarginMs: number, opts: { workspaces?: WorkspaceShares; answered?: Iterable<string> } = {}): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  // The share and the borrowing cap count what a workspace holds as well, so they are not cut to
  // the free slots (a workspace holding 6 of a share of 8 still gets 2 of 3 free slots).
  const cap = opts.workspaces?.cap ?? limit;
  const borrowCap = Math.max(cap, opts.workspaces?.borrowCap ?? cap);
  const held = opts.workspaces?.held ?? new Map<string, number>();
  const full = [...held].filter(([, n]) => n >= borrowCap).map(([ws]) => ws);
  // Every step reaches rows by key, never by a plan's choice: each endpoint's due deliveries through
  // its (endpoint, due time) index, each picked id locked by its own primary-key probe, the update by
  // the locked rows' ctid (nobody can move a row this statement holds locked), and each delivery's
  // event, endpoint and workspace by primary key. Joins left to the planner scanned every pending
  // delivery once a queue outgrew the statistics the plan was made from.
  const result = await sql<ClaimedDelivery>`/* prepared */
    with busy as (
      select endpoint_id, count(*)::int as n from webhook_deliveries
      where status = 'delivering' and id <> all(${[...(opts.answered ?? [])]}::text[]) group by endpoint_id
    ),
    candidates as (
      select d.id, d.next_attempt_at, d.n, e.workspace_id from webhook_endpoints e
      left join busy b on b.endpoint_id = e.id
      cross join lateral (
        select id, next_attempt_at, row_number() over (order by next_attempt_at) as n from webhook_deliveries
        where endpoint_id = e.id and status = 'pending' and next_attempt_at <= now()
        order by next_attempt_at
        limit greatest(least(e.max_in_flight - coalesce(b.n, 0), ${Math.min(borrowCap, limit)}::int), 0)
      ) d
      where e.enabled and e.workspace_id <> all(${full}::text[])
    ),
    turns as (
      select id, next_attempt_at,
        coalesce((${JSON.stringify(Object.fromEntries(held))}::jsonb ->> workspace_id)::int, 0)
          + row_number() over (partition by workspace_id order by n, next_attempt_at) as turn
      from candidates
    ),
    within as (
      select id from turns where turn <= ${cap}::int order by turn, next_attempt_at limit ${limit}
    ),
    beyond as (
      select id from turns where turn > ${cap}::int and turn <= ${borrowCap}::int order by turn, next_attempt_at
      limit greatest(0, ${limit - cap}::int - (select count(*) from within))
    ),
    locked as (
      select x.ctid from (select id from within union all select id from beyond) p cross join lateral (
        select ctid from webhook_deliveries where id = p.id and status = 'pending' for update skip locked
      ) x
    ),
    claimed as (
      update webhook_deliveries d
      set status = 'delivering', locked_by = ${workerId}, attempts = d.attempts + 1,
        locked_until = now() + make_interval(secs => (select timeout_s from webhook_endpoints where id = d.endpoint_id) + ${leaseMarginMs / 1000})
      where d.ctid = any(array(select ctid from locked))
      returning d.id, d.workspace_id, d.endpoint_id, d.event_id, d.attempts, d.max_attempts
    )
    select c.*, ev.type as event_type, ev.payload as event_payload, ev.created_at as event_created_at, ev.trace_parent as event_trace_parent,
      e.url, e.timeout_s, e.headers
    from claimed c
    cross join lateral (select type, payload, created_at, trace_parent from events where id = c.event_id) ev
    cross join lateral (select url, timeout_s, headers from webhook_endpoints where id = c.endpoint_id) e
    -- The statement is its own transaction: asynchronous commit, see ASYNC_COMMIT in record.ts.
    where set_config('synchronous_commit', 'off', true) is not null`.execute(db);
  return result.rows;
}

/**
 * Deliveries due now that no worker holds, and how long the oldest has waited (for /metrics). A
 * disabled endpoint's deliveries wait for it to be enabled again; they are not backlog.
 */
export async function queueDepth(db: Kysely<DB>) {
  // Endpoint by endpoint, so each count reads that endpoint's due deliveries through its index.
  const r = await sql<{ depth: number; oldest_s: number | null }>`
    select coalesce(sum(x.n), 0)::int as depth, extract(epoch from now() - min(x.oldest))::float8 as oldest_s
    from webhook_endpoints e cross join lateral (
      select count(*) as n, min(d.next_attempt_at) as oldest from webhook_deliveries d
      where d.endpoint_id = e.id and d.status = 'pending' and d.next_attempt_at <= now()
    ) x
    where e.enabled`.execute(db);
  return { depth: r.rows[0]?.depth ?? 0, oldestS: r.rows[0]?.oldest_s ?? 0 };
}

export async function deadLetterCount(db: Kysely<DB>): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where status = 'dead'`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/**
 * Retention, one batch: up to `limit` finished deliveries older than `olderThan`, oldest first (their
 * attempts go with them by cascade, at most max_attempts each). Roll-ups stay.
 */
export async function pruneFinishedDeliveries(db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from webhook_deliveries where id in (
    select id from webhook_deliveries where status in ('succeeded', 'dead') and finished_at < ${olderThan}
    order by finished_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Retention, one batch: events older than `olderThan` that no delivery refers to any more (prune
 * the deliveries first). An event whose delivery still waits stays with it.
 */
export async function pruneUnreferencedEvents(db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from events where id in (
    select e.id from events e where e.created_at < ${olderThan}
      and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
    order by e.created_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
