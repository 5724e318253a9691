import type { Kysely } from 'kysely';
import type { Database } from '../../db/connect.js';
import { isViolation } from '../../db/errors.js';
import type { DB } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { AppError, invalid, notFound } from '../../lib/errors.js';
import { createGroupCommit, groupCommitWriters } from '../../lib/group-commit.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { isKnownType, isReserved, listTypes } from './catalog.js';
import type { EndpointService } from './endpoints.js';
import { publish, publishMany, type WorkspaceEvent } from './publish.js';
import type { DeliveryOffer } from './queue.js';
import { currentTraceParent, inSpan } from '../../lib/tracing.js';
import * as store from './store.js';

const EVENT_WINDOW_S = 10;

export interface SendInput {
  type: string;
  payload: unknown;
  idempotency_key?: string;
  /** One endpoint, by id or name: it gets the event whatever its filter. */
  endpoint?: string;
  /** Every enabled endpoint of the workspace, whatever their filters. */
  broadcast?: boolean;
}

/**
 * Accepting events. Not audited one by one: events are business data with their own table and
 * delivery log, and the audit chain is for who changed what (endpoints, secrets, replays).
 */
export function createEventService({ db, dbKind, audit, tenancy, endpoints, limiter, eventsPerS, handOffs = {} }: {
  db: Kysely<DB>; dbKind: Database['kind']; audit: AuditService; tenancy: TenancyService; endpoints: EndpointService;
  /** Set while a delivery worker runs in this process: new deliveries are leased to it as they are written. */
  handOffs?: { offer?: DeliveryOffer };
  /** Events one workspace may send a second (over EVENT_WINDOW_S windows); unlimited without a limiter. */
  limiter?: Pick<RateLimiter, 'consume'>; eventsPerS?: number;
}) {
  // Concurrent accepts share one statement and one commit (group commit), as a statement and a commit
  // per event is what load costs the database; each is answered once its batch is committed. A failed
  // batch is retried event by event, so a bad event (its workspace deleted meanwhile) fails alone. A
  // batch with idempotency keys runs in a transaction, which makes that retry safe when the failure
  // comes after the insert (the repeats' lookup); without keys it is one statement, atomic on its own,
  // and BEGIN and COMMIT would be two more round trips for each batch.
  // With a delivery worker in this process, the batch's deliveries are written leased to it as far
  // as it has idle slots, and it starts them once the batch is committed: no claim, no wake-up.
  const write = async (batch: WorkspaceEvent[]) => {
    const offer = handOffs.offer?.() ?? null;
    try {
      const out = await (batch.some((e) => e.idempotencyKey)
        ? db.transaction().execute((trx) => publishMany(trx, batch, offer?.handOff))
        : publishMany(db, batch, offer?.handOff));
      offer?.take(out.flatMap((p) => p.leased ?? []));
      return out;
    } catch (err) {
      offer?.take([]);
      throw err;
    }
  };
  const accept = createGroupCommit(
    write,
    { isolateFailures: true, writers: groupCommitWriters(dbKind) },
  );

  /** A workspace's event budget, counted over a window of a few seconds so a short burst is absorbed. */
  async function takeEventBudget(workspaceId: string) {
    if (!limiter || !eventsPerS) return;
    const d = await limiter.consume(`events:${workspaceId}`, eventsPerS * EVENT_WINDOW_S, EVENT_WINDOW_S);
    if (d.allowed) return;
    const retryAfterS = Math.max(1, Math.ceil((d.reset - Date.now()) / 1000));
    throw new AppError('rate_limited', `this workspace sent more than ${eventsPerS} events a second; retry after ${retryAfterS} s`,
      { reason: 'workspace_event_rate', limit_per_s: eventsPerS, retry_after_s: retryAfterS }, { 'retry-after': String(retryAfterS) });
  }

  async function targetOf(workspaceId: string, input: SendInput) {
    if (input.endpoint && input.broadcast) throw invalid('give either endpoint or broadcast, not both', { field: 'endpoint' });
    if (input.broadcast) return 'broadcast' as const;
    if (!input.endpoint) return undefined;
    const endpointId = await store.findEndpointId(db, workspaceId, input.endpoint);
    if (!endpointId) throw notFound('webhook endpoint');
    return { endpointId };
  }

  /** The endpoints an event goes to, once its type and target are checked (what needs no write). */
  async function checkedTarget(workspaceId: string, input: SendInput) {
    if (isReserved(input.type)) throw invalid('gatehouse.* events are emitted by Gatehouse itself', { field: 'type' });
    if (!(await isKnownType(db, workspaceId, input.type))) {
      throw invalid(`unknown event type ${input.type}; register it with POST /v1/workspaces/${workspaceId}/event-types`, { field: 'type' });
    }
    return targetOf(workspaceId, input);
  }

  return {
    /** 202 only after the event and its deliveries are committed together. */
    async send(actor: Actor, workspaceId: string, input: SendInput) {
      // Whether the workspace exists is left to the insert (its foreign key) on the way that works:
      // a lookup first was one more round trip for every event accepted. A refusal looks it up
      // before answering, so a missing workspace is a 404 whatever else is wrong.
      if (!canSeeWorkspace(actor, workspaceId)) throw notFound('workspace');
      await takeEventBudget(workspaceId);
      const target = await checkedTarget(workspaceId, input).catch(async (err) => {
        await tenancy.requireWorkspace(actor, workspaceId);
        throw err;
      });
      return inSpan('gatehouse.event.accept', { attributes: { 'gatehouse.workspace_id': workspaceId, 'gatehouse.event_type': input.type } }, async (span) => {
        const r = await accept({ workspaceId, type: input.type, payload: input.payload, idempotencyKey: input.idempotency_key, target, traceParent: currentTraceParent() })
          .catch((err) => {
            throw isViolation(err, 'foreignKey', 'events_workspace_id_fkey') ? notFound('workspace') : err;
          });
        span.setAttributes({ 'gatehouse.event_id': r.eventId, 'gatehouse.duplicate': r.duplicate, 'gatehouse.deliveries': r.deliveries.length });
        return { event_id: r.eventId, duplicate: r.duplicate, deliveries: r.deliveries.length };
      });
    },

    /** A sample message to one endpoint, signed and logged like any other. */
    async test(actor: Actor, endpointId: string, input: { payload?: unknown }) {
      const ep = await endpoints.locate(actor, endpointId);
      const payload = input.payload ?? { message: 'a test message from Gatehouse', webhook_id: ep.id, sent_at: new Date().toISOString() };
      const r = await publish(db, ep.workspace_id, { type: 'gatehouse.webhook.test', payload, target: { endpointId: ep.id } });
      if (r.deliveries.length === 0) throw invalid('the endpoint is disabled; enable it to test it', { field: 'enabled' });
      return { event_id: r.eventId, delivery_id: r.deliveries[0] };
    },

    async listTypes(actor: Actor, workspaceId?: string) {
      if (workspaceId) await tenancy.requireWorkspace(actor, workspaceId);
      return listTypes(db, workspaceId ?? actor.workspaceId);
    },

    async registerType(actor: Actor, workspaceId: string, input: { name: string; description?: string }) {
      await tenancy.requireWorkspace(actor, workspaceId);
      if (isReserved(input.name)) throw invalid('gatehouse.* is reserved for Gatehouse', { field: 'name' });
      await db.transaction().execute(async (trx) => {
        await store.putEventType(trx, workspaceId, input.name, input.description ?? null);
        await audit.append(trx, actor, { workspaceId, action: 'event_type.registered', category: 'webhooks', resource: { type: 'event_type', id: input.name }, after: input });
      });
      return { name: input.name, description: input.description ?? null, built_in: false };
    },
  };
}
export type EventService = ReturnType<typeof createEventService>;
