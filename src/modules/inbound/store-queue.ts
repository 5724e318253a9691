import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import { INBOUND_CHANNEL, type InboundProvider } from './kinds.js';

/**
 * The receiving path's and the processing worker's statements, each one round trip as before:
 * the receiving INSERT is shared by concurrent requests, a batch is taken and marked in one
 * statement each.
 */

export interface Received {
  id: string;
  workspaceId: string;
  sourceId: string;
  dedupKey: string;
  signature: 'verified' | 'token' | 'unsigned';
  contentType: string | null;
  headers: string;
  ip: string;
  userAgent: string | null;
  body: Buffer;
}

/**
 * One statement for a batch of received events; a repeat (the same source and dedup key, earlier or
 * in this very batch) inserts nothing and gets the first event's id.
 */
export async function insertReceived(db: Executor, rows: Received[]): Promise<Array<{ id: string; duplicate: boolean }>> {
  const values = rows.map((r) => sql`(${r.id}, ${r.workspaceId}, ${r.sourceId}, ${r.dedupKey}, ${r.signature}, ${r.contentType}, ${r.headers}::jsonb, ${r.ip}, ${r.userAgent}, ${r.body})`);
  const inserted = await sql<{ id: string }>`
    insert into inbound_events (id, workspace_id, source_id, dedup_key, signature, content_type, headers, source_ip, user_agent, body)
    values ${sql.join(values)}
    on conflict (source_id, dedup_key) do nothing
    returning id`.execute(db);
  const fresh = new Set(inserted.rows.map((r) => r.id));
  const repeats = rows.filter((r) => !fresh.has(r.id));
  const firsts = new Map<string, string>();
  if (repeats.length > 0) {
    const keys = repeats.map((r) => sql`(${r.sourceId}, ${r.dedupKey})`);
    const found = await sql<{ id: string; source_id: string; dedup_key: string }>`
      select id, source_id, dedup_key from inbound_events where (source_id, dedup_key) in (${sql.join(keys)})`.execute(db);
    for (const f of found.rows) firsts.set(`${f.source_id}|${f.dedup_key}`, f.id);
  }
  return rows.map((r) => (fresh.has(r.id) ? { id: r.id, duplicate: false } : { id: firsts.get(`${r.sourceId}|${r.dedupKey}`) ?? '', duplicate: true }));
}

export async function insertRejection(db: Executor, workspaceId: string, r: { source_id: string; reason: string; source_ip: string; user_agent: string | null }) {
  await db.insertInto('inbound_rejections').values({ ...r, workspace_id: workspaceId }).execute();
}

/** Wakes the processing workers of every process. */
export async function notifyWorkers(db: Executor) {
  await sql`select pg_notify(${INBOUND_CHANNEL}, '')`.execute(db);
}

export interface Due {
  id: string;
  workspace_id: string;
  source_id: string;
  body: Uint8Array;
  content_type: string | null;
  attempts: number;
  replays: number;
  received_at: Date;
  provider: InboundProvider;
  name: string;
  events: string[] | null;
}

/** Due events, locked for this transaction; `only` narrows it to one event. */
export async function takeDue(trx: Executor, limit: number, only?: string) {
  const r = await sql<Due>`
    select e.id, e.workspace_id, e.source_id, e.body, e.content_type, e.attempts, e.replays, e.received_at, s.provider, s.name, s.events
    from inbound_events e join inbound_sources s on s.id = e.source_id
    where e.status = 'pending' and e.next_attempt_at <= now() ${only ? sql`and e.id = ${only}` : sql``}
    order by e.next_attempt_at limit ${limit}
    for update of e skip locked`.execute(trx);
  return r.rows;
}

export interface Outcome {
  id: string;
  status: 'processed' | 'ignored' | 'failed';
  providerType: string | null;
  eventTypes: string[];
  published: string[];
  note: string | null;
}

/** Marks a batch of taken events done, one statement. */
export async function markProcessed(trx: Executor, outcomes: Outcome[]) {
  const rows = outcomes.map((o) => sql`(${o.id}, ${o.status}, ${o.providerType}, ${o.eventTypes}::text[], ${o.published}::text[], ${o.note})`);
  await sql`
    update inbound_events e set status = x.status, provider_type = x.provider_type, event_types = x.event_types, published = x.published,
      last_error = x.note, attempts = e.attempts + 1, processed_at = now()
    from (values ${sql.join(rows)}) as x(id, status, provider_type, event_types, published, note)
    where e.id = x.id`.execute(trx);
}

/**
 * Counts a failed processing; the delay is picked inside the UPDATE (reading attempts first would
 * cost a round trip), `stepsS[k]` being the delay before retry k + 1.
 */
export async function markFailed(db: Executor, id: string, message: string, maxAttempts: number, stepsS: readonly number[]) {
  const r = await sql<{ attempts: number; status: string; next_attempt_at: Date }>`
    update inbound_events set attempts = attempts + 1, last_error = ${message},
      status = case when attempts + 1 >= ${maxAttempts} then 'failed' else 'pending' end,
      next_attempt_at = now() + make_interval(secs => (${JSON.stringify(stepsS)}::jsonb ->> least(attempts, ${stepsS.length - 1}))::float8)
    where id = ${id} and status = 'pending'
    returning attempts, status, next_attempt_at`.execute(db);
  return r.rows[0];
}
