import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import { newId } from '../../lib/ids.js';
import { matches } from './catalog.js';

export const DELIVERIES_CHANNEL = 'gatehouse_deliveries';

export interface EventInput {
  type: string;
  payload: unknown;
  idempotencyKey?: string | null;
  /** Default: every enabled endpoint whose filter takes the type. */
  target?: { endpointId: string } | 'broadcast';
}

export interface Published {
  eventId: string;
  /** An earlier event had the same idempotency key: its id is returned and nothing is written. */
  duplicate: boolean;
  deliveries: string[];
}

/**
 * The event and one delivery per chosen endpoint, in the caller's transaction, so an accepted event
 * always has its deliveries (transactional outbox). The NOTIFY that wakes the delivery workers is
 * sent at commit. A targeted endpoint gets the event whatever its filter; a disabled one gets none.
 */
export async function publish(trx: Executor, workspaceId: string, input: EventInput): Promise<Published> {
  const inserted = await trx
    .insertInto('events')
    .values({ id: newId('msg'), workspace_id: workspaceId, type: input.type, payload: JSON.stringify(input.payload ?? {}), idempotency_key: input.idempotencyKey ?? null })
    .onConflict((oc) => oc.columns(['workspace_id', 'idempotency_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const first = await trx
      .selectFrom('events')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('idempotency_key', '=', input.idempotencyKey!)
      .executeTakeFirstOrThrow();
    return { eventId: first.id, duplicate: true, deliveries: [] };
  }

  let q = trx.selectFrom('webhook_endpoints').select(['id', 'events', 'max_retries']).where('workspace_id', '=', workspaceId).where('enabled', '=', true);
  if (input.target && input.target !== 'broadcast') q = q.where('id', '=', input.target.endpointId);
  const endpoints = await q.execute();
  const chosen = input.target ? endpoints : endpoints.filter((e) => matches(e.events, input.type));
  const deliveries = chosen.map((e) => ({
    id: newId('dlv'),
    workspace_id: workspaceId,
    endpoint_id: e.id,
    event_id: inserted.id,
    max_attempts: e.max_retries + 1,
  }));
  if (deliveries.length > 0) {
    await trx.insertInto('webhook_deliveries').values(deliveries).execute();
    await sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`.execute(trx);
  }
  return { eventId: inserted.id, duplicate: false, deliveries: deliveries.map((d) => d.id) };
}
