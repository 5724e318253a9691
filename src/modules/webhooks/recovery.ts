import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import type { EndpointService } from './endpoints.js';
import { wakeDeliveryWorkers } from './store-deliveries.js';
import * as store from './store-recovery.js';
import type { Attempt, Delivery, DeliveryFilter } from './store-recovery.js';

export type { DeliveryFilter } from './store-recovery.js';

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

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  tenancy: TenancyService;
  endpoints: EndpointService;
}

/** Reading deliveries and their attempts, and sending them again: one, since a time, or the dead letters. */
export function createRecoveryService({ db, audit, tenancy, endpoints }: Deps) {
  async function list(workspaceId: string, f: DeliveryFilter, limit: number) {
    const rows = await store.listDeliveries(db, workspaceId, f, limit);
    const page = rows.slice(0, limit);
    return { data: page.map(deliveryView), next_cursor: rows.length > limit ? page[page.length - 1].id : null };
  }

  async function locateDelivery(actor: Actor, id: string) {
    const row = await store.getDelivery(db, null, id);
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('delivery');
    return row;
  }

  /**
   * Puts deliveries back in the queue now, keeping their webhook-id (receivers de-duplicate on it),
   * with room for the endpoint's retries again. Returns how many.
   */
  async function requeue(actor: Actor, workspaceId: string, where: { ids?: string[]; endpointId?: string; since?: Date; onlyDead?: boolean }, action: string) {
    return db.transaction().execute(async (trx) => {
      const count = (await store.requeueDeliveries(trx, workspaceId, where)).length;
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
      const attempts = await store.listAttempts(db, d.workspace_id, id);
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
