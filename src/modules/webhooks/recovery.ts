import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, DeliveryStatus } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import type { EndpointService } from './endpoints.js';
import { wakeDeliveryWorkers } from './publish.js';

type Delivery = Selectable<DB['webhook_deliveries']>;
type Attempt = Selectable<DB['webhook_attempts']>;

export const deliveryView = (d: Delivery & { event_type?: string }) => ({
  id: d.id,
  workspace_id: d.workspace_id,
  webhook_id: d.endpoint_id,
  event_id: d.event_id,
  ...(d.event_type !== undefined ? { event_type: d.event_type } : {}),
  status: d.status,
  attempts: d.attempts,
  max_attempts: d.max_attempts,
  next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
  last_status: d.last_status,
  last_error: d.last_error,
  created_at: d.created_at.toISOString(),
  finished_at: d.finished_at?.toISOString() ?? null,
});

export const attemptView = (a: Attempt) => ({
  id: String(a.id),
  attempt: a.attempt,
  worker_id: a.worker_id,
  url: a.url,
  request_headers: a.request_headers,
  response_status: a.response_status,
  response_body: a.response_body,
  duration_ms: a.duration_ms,
  error: a.error,
  outcome: a.outcome,
  next_attempt_at: a.next_attempt_at?.toISOString() ?? null,
  created_at: a.created_at.toISOString(),
});

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
  webhookId?: string;
  since?: Date;
  until?: Date;
  /** The previous page's next_cursor: continue below this delivery id. */
  cursor?: string;
}

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  tenancy: TenancyService;
  endpoints: EndpointService;
}

/** Reading deliveries and their attempts, and sending them again: one, since a time, or the dead letters. */
export function createRecoveryService({ db, audit, tenancy, endpoints }: Deps) {
  async function list(workspaceId: string, f: DeliveryFilter, limit: number) {
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
    const rows = await q.orderBy('d.id', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    return { data: page.map(deliveryView), next_cursor: rows.length > limit ? page[page.length - 1].id : null };
  }

  async function locateDelivery(actor: Actor, id: string) {
    const row = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('events as ev', 'ev.id', 'd.event_id')
      .selectAll('d')
      .select(['ev.type as event_type', 'ev.payload as event_payload'])
      .where('d.id', '=', id)
      .executeTakeFirst();
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('delivery');
    return row;
  }

  /**
   * Puts deliveries back in the queue now, keeping their webhook-id (receivers de-duplicate on it),
   * with room for the endpoint's retries again. Returns how many.
   */
  async function requeue(actor: Actor, workspaceId: string, where: { ids?: string[]; endpointId?: string; since?: Date; onlyDead?: boolean }, action: string) {
    return db.transaction().execute(async (trx) => {
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
      const count = result.rows.length;
      if (count > 0) await wakeDeliveryWorkers(trx);
      await audit.append(trx, actor, {
        workspaceId,
        action,
        category: 'webhooks',
        resource: where.endpointId ? { type: 'webhook_endpoint', id: where.endpointId } : { type: 'delivery', id: where.ids?.[0] ?? '' },
        after: { requeued: count, ...(where.since ? { since: where.since.toISOString() } : {}) },
      });
      return count;
    });
  }

  return {
    async listForWorkspace(actor: Actor, workspaceId: string, f: DeliveryFilter, limit: number) {
      await tenancy.requireWorkspace(actor, workspaceId);
      return list(workspaceId, f, limit);
    },

    async listForEndpoint(actor: Actor, endpointId: string, f: DeliveryFilter, limit: number) {
      const ep = await endpoints.locate(actor, endpointId);
      return list(ep.workspace_id, { ...f, webhookId: ep.id }, limit);
    },

    /** A delivery with its message and every attempt, oldest first. */
    async get(actor: Actor, id: string) {
      const d = await locateDelivery(actor, id);
      const attempts = await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', id).orderBy('id').execute();
      return { ...deliveryView(d), payload: d.event_payload, attempt_log: attempts.map(attemptView) };
    },

    /** Sends one delivery again (finished ones; a pending one is already on its way). */
    async replay(actor: Actor, id: string) {
      const d = await locateDelivery(actor, id);
      const n = await requeue(actor, d.workspace_id, { ids: [id] }, 'delivery.replayed');
      return { id, requeued: n };
    },

    /** Everything the endpoint was sent since a time, sent again. */
    async replaySince(actor: Actor, endpointId: string, since: Date) {
      const ep = await endpoints.locate(actor, endpointId);
      return { requeued: await requeue(actor, ep.workspace_id, { endpointId, since }, 'webhook.replayed') };
    },

    /** The endpoint's whole dead-letter list, sent again. */
    async retryDead(actor: Actor, endpointId: string) {
      const ep = await endpoints.locate(actor, endpointId);
      return { requeued: await requeue(actor, ep.workspace_id, { endpointId, onlyDead: true }, 'webhook.dead_letters_retried') };
    },
  };
}
export type RecoveryService = ReturnType<typeof createRecoveryService>;
