import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, DeliveryStatus, Executor } from '../../db/types.js';

// Reading and replaying deliveries, retention, and the figures /metrics and analytics read.

export type Delivery = Selectable<DB['webhook_deliveries']>;
export type Attempt = Selectable<DB['webhook_attempts']>;

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
  webhookId?: string;
  since?: Date;
  until?: Date;
  /** The previous page's next_cursor: continue below this delivery id. */
  cursor?: string;
}

/** A workspace's deliveries with their event's type, newest first, `limit + 1` of them. */
export async function listDeliveries(db: Executor, workspaceId: string, f: DeliveryFilter, limit: number) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as ev', 'ev.id', 'd.event_id')
    .selectAll('d')
    .select('ev.type as event_type')
    .where('d.workspace_id', '=', workspaceId);
  if (f.status) q = q.where('d.status', '=', f.status);
  if (f.webhookId) q = q.where('d.endpoint_id', '=', f.webhookId);
  if (f.eventType) q = q.where('ev.type', '=', f.eventType);
  if (f.since) q = q.where('d.created_at', '>=', f.since);
  if (f.until) q = q.where('d.created_at', '<', f.until);
  if (f.cursor) q = q.where('d.id', '<', f.cursor);
  return q.orderBy('d.id', 'desc').limit(limit + 1).execute();
}

/**
 * A delivery with its event's type and payload; `workspaceId` null looks in every workspace (a
 * route given only the delivery's id: the caller checks the actor may see its workspace).
 */
export async function getDelivery(db: Executor, workspaceId: string | null, deliveryId: string) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as ev', 'ev.id', 'd.event_id')
    .selectAll('d')
    .select(['ev.type as event_type', 'ev.payload as event_payload'])
    .where('d.id', '=', deliveryId);
  if (workspaceId !== null) q = q.where('d.workspace_id', '=', workspaceId);
  return q.executeTakeFirst();
}

/** Every attempt of a workspace's delivery, oldest first. */
export async function listAttempts(db: Executor, workspaceId: string, deliveryId: string): Promise<Attempt[]> {
  return db.selectFrom('webhook_attempts').selectAll().where('workspace_id', '=', workspaceId).where('delivery_id', '=', deliveryId).orderBy('id').execute();
}

/**
 * Puts a workspace's finished deliveries back in the queue now, with room for the endpoint's
 * retries again; answers their ids.
 */
export async function requeueDeliveries(trx: Executor, workspaceId: string, where: { ids?: string[]; endpointId?: string; since?: Date; onlyDead?: boolean }) {
  const result = await sql<{ id: string }>`
    update webhook_deliveries d
    set status = 'pending', next_attempt_at = now(), finished_at = null, locked_by = null, locked_until = null,
        max_attempts = d.attempts + e.max_retries + 1
    from webhook_endpoints e
    where e.id = d.endpoint_id and d.workspace_id = ${workspaceId} and d.status in ('succeeded', 'dead')
      ${where.ids ? sql`and d.id = any(${where.ids}::text[])` : sql``}
      ${where.endpointId ? sql`and d.endpoint_id = ${where.endpointId}` : sql``}
      ${where.since ? sql`and d.created_at >= ${where.since}` : sql``}
      ${where.onlyDead ? sql`and d.status = 'dead'` : sql``}
    returning d.id`.execute(trx);
  return result.rows.map((r) => r.id);
}

/**
 * Deliveries due now that no worker holds, and how long the oldest has waited (for /metrics). A
 * disabled endpoint's deliveries wait for it to be enabled again; they are not backlog.
 */
export async function queueDepth(db: Executor) {
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

export async function deadLetterCount(db: Executor): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where status = 'dead'`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/**
 * Retention, one batch: up to `limit` finished deliveries older than `olderThan`, oldest first (their
 * attempts go with them by cascade, at most max_attempts each). Roll-ups stay.
 */
export async function pruneFinishedDeliveries(db: Executor, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from webhook_deliveries where id in (
    select id from webhook_deliveries where status in ('succeeded', 'dead') and finished_at < ${olderThan}
    order by finished_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Retention, one batch: events older than `olderThan` that no delivery refers to any more (prune
 * the deliveries first). An event whose delivery still waits stays with it.
 */
export async function pruneUnreferencedEvents(db: Executor, olderThan: Date, limit: number): Promise<number> {
  const r = await sql`delete from events where id in (
    select e.id from events e where e.created_at < ${olderThan}
      and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
    order by e.created_at limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
