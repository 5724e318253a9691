import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import { pageAfter } from '../../db/paging.js';
import type { DB, Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';
import type { PageRequest } from '../../lib/paging.js';

// Endpoints, their sealed header values and the event catalog. Tables keyed by an endpoint id
// (headers, secrets) are reached only for an endpoint the caller has located in its workspace.

export type Endpoint = Selectable<DB['webhook_endpoints']>;
export type NewEndpoint = Omit<Insertable<DB['webhook_endpoints']>, 'workspace_id'>;

/**
 * An endpoint by id; `workspaceId` null looks in every workspace (a route given only the endpoint's
 * id: the caller checks the actor may see the workspace it is in).
 */
export async function getEndpoint(db: Executor, workspaceId: string | null, endpointId: string): Promise<Endpoint | undefined> {
  let q = db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpointId);
  if (workspaceId !== null) q = q.where('workspace_id', '=', workspaceId);
  return q.executeTakeFirst();
}

/** The masks a view shows of an endpoint's auth token and header values. */
export async function endpointMasks(db: Executor, endpointId: string) {
  const row = await db.selectFrom('webhook_endpoint_secrets').select('mask').where('endpoint_id', '=', endpointId).where('purpose', '=', 'auth_token').executeTakeFirst();
  const headers = await db.selectFrom('webhook_endpoint_headers').select('masks').where('endpoint_id', '=', endpointId).executeTakeFirst();
  return { auth_token: row?.mask ?? null, headers: headers?.masks ?? null };
}

/**
 * A workspace's endpoint count, with the workspace's endpoint creations serialised until the
 * transaction ends (a lock of its own, so accepting events is never held up), so two creations at
 * once cannot both take the last place.
 */
export async function countEndpointsLocked(trx: Executor, workspaceId: string): Promise<number> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`webhook_endpoints:${workspaceId}`}, 0))`.execute(trx);
  const { n } = await trx.selectFrom('webhook_endpoints').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  return Number(n);
}

export async function insertEndpoint(trx: Executor, workspaceId: string, values: NewEndpoint): Promise<Endpoint> {
  return trx.insertInto('webhook_endpoints').values({ ...values, workspace_id: workspaceId }).returningAll().executeTakeFirstOrThrow();
}

/** A page of a workspace's endpoints, oldest first, with the masks their views show. */
export async function listEndpoints(db: Executor, workspaceId: string, page: PageRequest) {
  return pageAfter(
    db
      .selectFrom('webhook_endpoints')
      .leftJoin('webhook_endpoint_secrets as s', (j) => j.onRef('s.endpoint_id', '=', 'webhook_endpoints.id').on('s.purpose', '=', 'auth_token'))
      .leftJoin('webhook_endpoint_headers as h', 'h.endpoint_id', 'webhook_endpoints.id')
      .selectAll('webhook_endpoints')
      .select(['s.mask', 'h.masks'])
      .where('webhook_endpoints.workspace_id', '=', workspaceId),
    'webhook_endpoints',
    page,
  ).execute();
}

/** The id of a workspace's endpoint named by its id or its name. */
export async function findEndpointId(db: Executor, workspaceId: string, idOrName: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
  return row?.id;
}

export async function updateEndpoint(trx: Executor, workspaceId: string, endpointId: string, set: Updateable<DB['webhook_endpoints']>): Promise<Endpoint> {
  return trx.updateTable('webhook_endpoints').set(set).where('workspace_id', '=', workspaceId).where('id', '=', endpointId).returningAll().executeTakeFirstOrThrow();
}

export async function deleteEndpoint(trx: Executor, workspaceId: string, endpointId: string) {
  await trx.deleteFrom('webhook_endpoints').where('workspace_id', '=', workspaceId).where('id', '=', endpointId).execute();
}

const plaintextHeaders = sql<boolean>`headers <> '{}'::jsonb`;

/** Endpoints of every workspace still holding header values in plain text (from before they were sealed). */
export async function endpointsWithPlaintextHeaders(db: Executor): Promise<string[]> {
  return (await db.selectFrom('webhook_endpoints').select('id').where(plaintextHeaders).execute()).map((r) => r.id);
}

/** An endpoint's plain-text header values, locked until the transaction ends; undefined once sealed. */
export async function lockPlaintextHeaders(trx: Executor, endpointId: string) {
  const row = await trx.selectFrom('webhook_endpoints').select('headers').where('id', '=', endpointId).where(plaintextHeaders).forUpdate().executeTakeFirst();
  return row?.headers;
}

export async function clearPlaintextHeaders(trx: Executor, endpointId: string) {
  await trx.updateTable('webhook_endpoints').set({ headers: '{}' }).where('id', '=', endpointId).execute();
}

/** An endpoint's sealed header values. */
export async function getSealedHeaders(db: Executor, endpointId: string) {
  return db.selectFrom('webhook_endpoint_headers').selectAll().where('endpoint_id', '=', endpointId).executeTakeFirst();
}

export async function putSealedHeaders(trx: Executor, endpointId: string, sealed: Sealed, masks: Record<string, string>) {
  const row = { ...sealed, masks: JSON.stringify(masks), updated_at: new Date() };
  await trx
    .insertInto('webhook_endpoint_headers')
    .values({ endpoint_id: endpointId, ...row })
    .onConflict((oc) => oc.column('endpoint_id').doUpdateSet(row))
    .execute();
}

export async function deleteSealedHeaders(trx: Executor, endpointId: string) {
  await trx.deleteFrom('webhook_endpoint_headers').where('endpoint_id', '=', endpointId).execute();
}

export async function hasEventType(db: Executor, workspaceId: string, name: string): Promise<boolean> {
  const row = await db.selectFrom('event_types').select('name').where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
  return row !== undefined;
}

export async function listEventTypes(db: Executor, workspaceId: string) {
  return db.selectFrom('event_types').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute();
}

export async function putEventType(db: Executor, workspaceId: string, name: string, description: string | null) {
  await db
    .insertInto('event_types')
    .values({ workspace_id: workspaceId, name, description })
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doUpdateSet({ description }))
    .execute();
}
