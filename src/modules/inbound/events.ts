import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import * as store from './store.js';
import type { InboundEventRow, InboundFilter } from './store.js';

export type { InboundEventRow, InboundFilter } from './store.js';

export function inboundEventView(r: InboundEventRow) {
  return {
    id: r.id,
    workspace_id: r.workspace_id,
    source_id: r.source_id,
    provider: r.provider,
    status: r.status,
    signature: r.signature,
    provider_type: r.provider_type,
    event_types: r.event_types ?? [],
    published_event_ids: r.published ?? [],
    content_type: r.content_type,
    headers: r.headers,
    source_ip: r.source_ip,
    user_agent: r.user_agent,
    attempts: r.attempts,
    replays: r.replays,
    last_error: r.last_error,
    next_attempt_at: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    received_at: r.received_at.toISOString(),
    processed_at: r.processed_at?.toISOString() ?? null,
  };
}

export const CSV_COLUMNS = ['id', 'received_at', 'source_id', 'provider', 'status', 'signature', 'provider_type', 'event_types', 'attempts', 'last_error', 'source_ip', 'processed_at'] as const;
export const csvRow = (r: InboundEventRow) => {
  const v = inboundEventView(r);
  return CSV_COLUMNS.map((c) => (c === 'event_types' ? v.event_types.join(' ') : v[c]));
};

export function createInboundEventService({ db, audit, tenancy }: { db: Kysely<DB>; audit: AuditService; tenancy: TenancyService }) {
  async function locate(actor: Actor, id: string, ex: Executor = db) {
    const row = await store.getEvent(ex, id);
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('inbound event');
    return row;
  }

  return {
    /** Newest first; `cursor` is the last id of the previous page. */
    list: (workspaceId: string, f: InboundFilter, limit: number): Promise<InboundEventRow[]> => store.listEvents(db, workspaceId, f, limit),

    async get(actor: Actor, id: string) {
      const { body, ...row } = await locate(actor, id);
      return { ...inboundEventView(row), body: Buffer.from(body).toString('utf8') };
    },

    /** Processes it again from its stored body; a processed event is published again (new outbound events). */
    async replay(actor: Actor, id: string) {
      return db.transaction().execute(async (trx) => {
        const row = await locate(actor, id, trx);
        if (!(await store.markReplayed(trx, row.workspace_id, id))) throw conflict('the event is being processed right now; replay it once that finishes');
        await audit.append(trx, actor, { workspaceId: row.workspace_id, action: 'inbound_event.replayed', category: 'webhooks', resource: { type: 'inbound_event', id }, before: { status: row.status } });
        return { id, status: 'pending' as const };
      });
    },

    requireWorkspace: (actor: Actor, workspaceId: string) => tenancy.requireWorkspace(actor, workspaceId),
  };
}
export type InboundEventService = ReturnType<typeof createInboundEventService>;
