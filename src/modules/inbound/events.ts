import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { INBOUND_CHANNEL } from './kinds.js';

type Row = Selectable<DB['inbound_events']>;
export type InboundEventRow = Omit<Row, 'body'> & { provider: string };

export interface InboundFilter {
  source_id?: string;
  type?: string;
  status?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
}

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

const COLUMNS = ['e.id', 'e.workspace_id', 'e.source_id', 'e.dedup_key', 'e.status', 'e.signature', 'e.provider_type', 'e.event_types', 'e.published', 'e.content_type', 'e.headers',
  'e.source_ip', 'e.user_agent', 'e.attempts', 'e.replays', 'e.next_attempt_at', 'e.locked_by', 'e.locked_until', 'e.last_error', 'e.received_at', 'e.processed_at', 's.provider'] as const;

export function createInboundEventService({ db, audit, tenancy }: { db: Kysely<DB>; audit: AuditService; tenancy: TenancyService }) {
  const base = (ex: Executor = db) => ex.selectFrom('inbound_events as e').innerJoin('inbound_sources as s', 's.id', 'e.source_id');

  async function locate(actor: Actor, id: string, ex: Executor = db) {
    const row = await base(ex).select(COLUMNS).select('e.body').where('e.id', '=', id).executeTakeFirst();
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('inbound event');
    return row;
  }

  return {
    /** Newest first; `cursor` is the last id of the previous page. */
    async list(workspaceId: string, f: InboundFilter, limit: number): Promise<InboundEventRow[]> {
      let q = base().select(COLUMNS).where('e.workspace_id', '=', workspaceId);
      if (f.source_id) q = q.where('e.source_id', '=', f.source_id);
      if (f.status) q = q.where('e.status', '=', f.status as Row['status']);
      const type = f.type;
      if (type) q = q.where((eb) => eb.or([eb('e.provider_type', '=', type), eb(eb.val(type), '=', eb.fn.any('e.event_types'))]));
      if (f.from) q = q.where('e.received_at', '>=', f.from);
      if (f.to) q = q.where('e.received_at', '<', f.to);
      if (f.cursor) q = q.where('e.id', '<', f.cursor);
      return q.orderBy('e.id', 'desc').limit(limit).execute();
    },

    async get(actor: Actor, id: string) {
      const { body, ...row } = await locate(actor, id);
      return { ...inboundEventView(row), body: Buffer.from(body).toString('utf8') };
    },

    /** Processes it again from its stored body; a processed event is published again (new outbound events). */
    async replay(actor: Actor, id: string) {
      return db.transaction().execute(async (trx) => {
        const row = await locate(actor, id, trx);
        const r = await trx
          .updateTable('inbound_events')
          .set((eb) => ({ status: 'pending', attempts: 0, replays: eb('replays', '+', 1), next_attempt_at: new Date(), last_error: null, processed_at: null }))
          .where('id', '=', id)
          .where('status', '!=', 'processing')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw conflict('the event is being processed right now; replay it once that finishes');
        await sql`select pg_notify(${INBOUND_CHANNEL}, '')`.execute(trx);
        await audit.append(trx, actor, { workspaceId: row.workspace_id, action: 'inbound_event.replayed', category: 'webhooks', resource: { type: 'inbound_event', id }, before: { status: row.status } });
        return { id, status: 'pending' as const };
      });
    },

    requireWorkspace: (actor: Actor, workspaceId: string) => tenancy.requireWorkspace(actor, workspaceId),
  };
}
export type InboundEventService = ReturnType<typeof createInboundEventService>;
