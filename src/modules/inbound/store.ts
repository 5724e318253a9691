import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import { pageAfter } from '../../db/paging.js';
import type { DB, Executor } from '../../db/types.js';
import type { PageRequest } from '../../lib/paging.js';
import { INBOUND_CHANNEL } from './kinds.js';

/** Sources, received events and refusals (inbound_*); the queue's statements are in store-queue.ts. */

export type SourceRow = Selectable<DB['inbound_sources']>;
type EventRow = Selectable<DB['inbound_events']>;
export type InboundEventRow = Omit<EventRow, 'body'> & { provider: string };

export interface InboundFilter {
  source_id?: string;
  type?: string;
  status?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
}

// ---- sources

/** A source by its id alone: the caller checks that the actor may see its workspace. */
export async function getSource(db: Executor, id: string) {
  return db.selectFrom('inbound_sources').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertSource(trx: Executor, workspaceId: string, row: Omit<Insertable<DB['inbound_sources']>, 'workspace_id'>) {
  return trx.insertInto('inbound_sources').values({ ...row, workspace_id: workspaceId }).returningAll().executeTakeFirstOrThrow();
}

export async function updateSource(trx: Executor, workspaceId: string, id: string, set: Updateable<DB['inbound_sources']>) {
  return trx.updateTable('inbound_sources').set(set).where('workspace_id', '=', workspaceId).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteSource(trx: Executor, workspaceId: string, id: string) {
  await trx.deleteFrom('inbound_sources').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

export async function listSources(db: Executor, workspaceId: string, page: PageRequest) {
  return pageAfter(db.selectFrom('inbound_sources').selectAll(), 'inbound_sources', page).where('workspace_id', '=', workspaceId).execute();
}

/** When each of these sources last received, and how many requests to it failed verification in the last 24 hours. */
export async function sourceStats(db: Executor, workspaceId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  const stats = await sql<{ id: string; last: Date | null; failures: number }>`
    select s.id, (select max(received_at) from inbound_events e where e.source_id = s.id) as last,
      (select count(*)::int from inbound_rejections r where r.source_id = s.id and r.received_at > now() - interval '24 hours') as failures
    from inbound_sources s where s.workspace_id = ${workspaceId} and s.id in (${sql.join(ids)})`.execute(db);
  return stats.rows;
}

/** Received and refused per day over 30 days, the last day's figures, and refusals by reason. */
export async function sourceHealth(db: Executor, sourceId: string) {
  const days = await sql<{ day: string; received: number; rejected: number }>`
    with d as (select generate_series(date_trunc('day', now()) - interval '29 days', date_trunc('day', now()), interval '1 day') as day)
    select to_char(d.day, 'YYYY-MM-DD') as day,
      (select count(*)::int from inbound_events e where e.source_id = ${sourceId} and e.received_at >= d.day and e.received_at < d.day + interval '1 day') as received,
      (select count(*)::int from inbound_rejections r where r.source_id = ${sourceId} and r.received_at >= d.day and r.received_at < d.day + interval '1 day') as rejected
    from d order by d.day`.execute(db);
  const r = await sql<{ last: Date | null; received_24h: number; rejected_24h: number }>`
    select (select max(received_at) from inbound_events where source_id = ${sourceId}) as last,
      (select count(*)::int from inbound_events where source_id = ${sourceId} and received_at > now() - interval '24 hours') as received_24h,
      (select count(*)::int from inbound_rejections where source_id = ${sourceId} and received_at > now() - interval '24 hours') as rejected_24h`.execute(db);
  const reasons = await db
    .selectFrom('inbound_rejections')
    .select(['reason', (eb) => eb.fn.countAll<string>().as('n')])
    .where('source_id', '=', sourceId)
    .where('received_at', '>', new Date(Date.now() - 30 * 86_400_000))
    .groupBy('reason')
    .execute();
  return { days: days.rows, totals: r.rows[0], reasons };
}

/** Enabled sources that usually receive (on `usualDays` of the last 7) and have been silent past their limit since their last alert. */
export async function silentSources(db: Executor, defaultSilentAfterS: number, usualDays: number) {
  const silent = await sql<{ id: string; workspace_id: string; provider: string; name: string; last: Date; after_s: number }>`
    select s.id, s.workspace_id, s.provider, s.name, a.last, coalesce(s.silent_after_s, ${defaultSilentAfterS})::int as after_s
    from inbound_sources s
    cross join lateral (
      select max(received_at) as last, count(distinct date_trunc('day', received_at)) filter (where received_at > now() - interval '7 days') as days
      from inbound_events e where e.source_id = s.id and e.received_at > now() - interval '37 days'
    ) a
    where s.enabled and a.days >= ${usualDays}
      and a.last < now() - make_interval(secs => coalesce(s.silent_after_s, ${defaultSilentAfterS}))
      and (s.silent_alerted_at is null or s.silent_alerted_at < a.last)`.execute(db);
  return silent.rows;
}

export async function markSilentAlerted(trx: Executor, workspaceId: string, id: string) {
  await trx.updateTable('inbound_sources').set({ silent_alerted_at: new Date() }).where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

// ---- events

const COLUMNS = ['e.id', 'e.workspace_id', 'e.source_id', 'e.dedup_key', 'e.status', 'e.signature', 'e.provider_type', 'e.event_types', 'e.published', 'e.content_type', 'e.headers',
  'e.source_ip', 'e.user_agent', 'e.attempts', 'e.replays', 'e.next_attempt_at', 'e.locked_by', 'e.locked_until', 'e.last_error', 'e.received_at', 'e.processed_at', 's.provider'] as const;

const events = (ex: Executor) => ex.selectFrom('inbound_events as e').innerJoin('inbound_sources as s', 's.id', 'e.source_id');

/** Newest first; `cursor` is the last id of the previous page. */
export async function listEvents(db: Executor, workspaceId: string, f: InboundFilter, limit: number): Promise<InboundEventRow[]> {
  let q = events(db).select(COLUMNS).where('e.workspace_id', '=', workspaceId);
  if (f.source_id) q = q.where('e.source_id', '=', f.source_id);
  if (f.status) q = q.where('e.status', '=', f.status as EventRow['status']);
  const type = f.type;
  if (type) q = q.where((eb) => eb.or([eb('e.provider_type', '=', type), eb(eb.val(type), '=', eb.fn.any('e.event_types'))]));
  if (f.from) q = q.where('e.received_at', '>=', f.from);
  if (f.to) q = q.where('e.received_at', '<', f.to);
  if (f.cursor) q = q.where('e.id', '<', f.cursor);
  return q.orderBy('e.id', 'desc').limit(limit).execute();
}

/** An event with its body, by id alone: the caller checks that the actor may see its workspace. */
export async function getEvent(db: Executor, id: string) {
  return events(db).select(COLUMNS).select('e.body').where('e.id', '=', id).executeTakeFirst();
}

/** Due again at once, unless it is being processed right now (false then); the workers are woken at commit. */
export async function markReplayed(trx: Executor, workspaceId: string, id: string): Promise<boolean> {
  const r = await trx
    .updateTable('inbound_events')
    .set((eb) => ({ status: 'pending', attempts: 0, replays: eb('replays', '+', 1), next_attempt_at: new Date(), last_error: null, processed_at: null }))
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '!=', 'processing')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  await sql`select pg_notify(${INBOUND_CHANNEL}, '')`.execute(trx);
  return true;
}

/** Retention, one batch: finished events (never one still waiting) received before `olderThan`, oldest first. */
export async function pruneEvents(db: Executor, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from inbound_events where id in (
    select id from inbound_events where status in ('processed', 'ignored', 'failed') and received_at < ${olderThan}
    order by received_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Retention, one batch: refusals received before `olderThan`, oldest first. */
export async function pruneRejections(db: Executor, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from inbound_rejections where id in (
    select id from inbound_rejections where received_at < ${olderThan} order by received_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
