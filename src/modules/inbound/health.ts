import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { ownEvent } from '../webhooks/catalog.js';
import { publish } from '../webhooks/publish.js';

/** A source "usually receives" when it received on at least this many of the last 7 days. */
const USUAL_DAYS = 3;

export async function sourceHealth(db: Kysely<DB>, sourceId: string, silentAfterS: number) {
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
  const { last, received_24h, rejected_24h } = r.rows[0];
  return {
    last_received_at: last?.toISOString() ?? null,
    received_24h,
    rejected_24h,
    by_day: days.rows,
    rejections_by_reason: Object.fromEntries(reasons.map((x) => [x.reason, Number(x.n)])),
    silent: last !== null && Date.now() - last.getTime() > silentAfterS * 1000,
    silent_after_s: silentAfterS,
  };
}

/**
 * Emits `gatehouse.inbound.silent` for each enabled source that usually receives and has been
 * silent longer than its limit, once per silence (the next event received starts a new one).
 */
export async function alertSilentSources(db: Kysely<DB>, defaultSilentAfterS: number): Promise<number> {
  const silent = await sql<{ id: string; workspace_id: string; provider: string; name: string; last: Date; after_s: number }>`
    select s.id, s.workspace_id, s.provider, s.name, a.last, coalesce(s.silent_after_s, ${defaultSilentAfterS})::int as after_s
    from inbound_sources s
    cross join lateral (
      select max(received_at) as last, count(distinct date_trunc('day', received_at)) filter (where received_at > now() - interval '7 days') as days
      from inbound_events e where e.source_id = s.id and e.received_at > now() - interval '37 days'
    ) a
    where s.enabled and a.days >= ${USUAL_DAYS}
      and a.last < now() - make_interval(secs => coalesce(s.silent_after_s, ${defaultSilentAfterS}))
      and (s.silent_alerted_at is null or s.silent_alerted_at < a.last)`.execute(db);
  for (const s of silent.rows) {
    await db.transaction().execute(async (trx) => {
      const payload = { source: { id: s.id, provider: s.provider, name: s.name }, last_received_at: s.last.toISOString(), silent_for_s: Math.round((Date.now() - s.last.getTime()) / 1000), silent_after_s: s.after_s };
      await publish(trx, s.workspace_id, { ...ownEvent('gatehouse.inbound.silent', payload), idempotencyKey: `inbound-silent:${s.id}:${s.last.toISOString()}` });
      await trx.updateTable('inbound_sources').set({ silent_alerted_at: new Date() }).where('id', '=', s.id).execute();
    });
  }
  return silent.rows.length;
}

/** Retention, one batch: finished events (never one still waiting) received before `olderThan`, oldest first. */
export async function pruneInboundEvents(db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from inbound_events where id in (
    select id from inbound_events where status in ('processed', 'ignored', 'failed') and received_at < ${olderThan}
    order by received_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Retention, one batch: refusals received before `olderThan`, oldest first. */
export async function pruneInboundRejections(db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from inbound_rejections where id in (
    select id from inbound_rejections where received_at < ${olderThan} order by received_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
