import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { DELIVERIES_CHANNEL, type ClaimedDelivery, type HandOff, type WorkspaceShares } from './queue.js';

// The delivery path's statements, each run as written here: the publish (events and their
// deliveries in one statement), the claim, and the record of a batch of attempts. Each serves every
// workspace at once (a claim or a batch spans them), so none is scoped to one.

/** Wakes every delivery worker (sent at commit): deliveries became claimable other than by a publish. */
export const wakeDeliveryWorkers = (trx: Executor) => sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`.execute(trx);

/** SQL: endpoint `e`'s filter takes the event type `type` (exactly, by `prefix.*`, or by `*`). */
const filterTakes = (type: RawBuilder<unknown>) =>
  sql`(${type} = any(e.events) or '*' = any(e.events)
    or exists (select 1 from unnest(e.events) f where f like '%.*' and starts_with(${type}, left(f, -1))))`;

/** One event to publish, as the publish statement reads it. */
export interface EventRow {
  ord: number;
  id: string;
  workspace_id: string;
  type: string;
  payload: unknown;
  idempotency_key: string | null;
  trace_parent: string | null;
  endpoint_id: string | null;
  broadcast: boolean;
}

/** A delivery leased to the hand-off's worker as it was written, with what its first attempt needs. */
export interface LeasedRow {
  id: string;
  endpoint_id: string;
  max_attempts: number;
  url: string;
  timeout_s: number;
  headers: Record<string, string>;
}

/**
 * Inserts `input`'s events (a repeated idempotency key inserts nothing) and one delivery per chosen
 * endpoint, leased to `lease`'s worker as far as it has room, in ONE statement; see publishMany.
 * Answers the events inserted, with their deliveries' ids and those leased. Events are inserted in
 * key order, so concurrent batches repeating the same keys queue on one another instead of
 * deadlocking; `ord` last keeps the batch's first use of a key the one that wins.
 */
export async function insertEventsWithDeliveries(db: Executor, input: EventRow[], lease: HandOff) {
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
  return result.rows;
}

/** The first events holding these idempotency keys. */
export async function eventsByIdempotencyKey(db: Executor, repeats: Array<{ workspace_id: string; idempotency_key: string | null }>) {
  return db
    .selectFrom('events')
    .select(['id', 'workspace_id', 'idempotency_key'])
    .where((eb) => eb.or(repeats.map((r) => eb.and([eb('workspace_id', '=', r.workspace_id), eb('idempotency_key', '=', r.idempotency_key)]))))
    .execute();
}

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

/** One attempt as the record statement reads it. */
export interface AttemptRow {
  delivery_id: string;
  endpoint_id: string;
  workspace_id: string;
  attempt: number;
  url: string;
  request_headers: Record<string, string>;
  response_status: number | null;
  response_body: string | null;
  duration_ms: number;
  error: string | null;
  outcome: string;
  next_attempt_at: string | null;
  status: string;
  next_at: string;
  finished_at: string | null;
}

/** One endpoint's figures of a batch, as the record statement adds them. */
export interface EndpointSumRow {
  endpoint_id: string;
  workspace_id: string;
  total: number;
  succeeded: number;
  duration_sum: number;
  buckets: number[];
  last_ok: boolean;
  any_ok: boolean;
}

/**
 * Records a batch of attempts in ONE statement (see ASYNC_COMMIT and writeBatch in record.ts): logs
 * them, moves each delivery this worker still holds, adds to each endpoint's counters and its
 * 5-minute roll-up. Answers each endpoint counted, whether it is enabled and failing too long.
 */
export async function recordAttempts(db: Executor, workerId: string, attempts: AttemptRow[], ids: string[], rows: EndpointSumRow[], endpointIds: string[], disableAfterS: number) {
  // An endpoint deleted while its delivery was in flight takes the delivery with it: that attempt
  // has nothing left to be recorded against, and must not fail the batch for the others. The rest
  // are locked against deletion until this commits, so every delivery the update finds was logged.
  // Each id is looked up by its own primary-key probe, and the update takes the ids again as an
  // array: a join on the recordset (estimated at 100 rows) may become a scan of every delivery, and
  // a join on a CTE's rows compares every row with every other (a batch of 400 spent 14 ms so).
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
    locked as (select id from webhook_endpoints where id = any(${endpointIds}::text[]) order by id for no key update),
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

/** Disables an endpoint if it is still enabled (another batch may have done it since); true if this did. */
export async function disableEndpoint(trx: Executor, endpointId: string, reason: string): Promise<boolean> {
  const turnedOff = await trx.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason, updated_at: new Date() })
    .where('id', '=', endpointId).where('enabled', '=', true).executeTakeFirst();
  return turnedOff.numUpdatedRows > 0n;
}
