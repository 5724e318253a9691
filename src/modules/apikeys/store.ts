import { sql, type ExpressionBuilder } from 'kysely';
import type { ApiKeyRow, DB, Executor, NewApiKey } from '../../db/types.js';
import { pageAfter } from '../../db/paging.js';
import type { PageRequest } from '../../lib/paging.js';

export const KEYS_CHANNEL = 'gatehouse_keys';

/** Scopes a query to one workspace; null means the platform admin keys, which belong to none. */
const inWorkspace =
  (workspaceId: string | null) =>
  (eb: ExpressionBuilder<DB, 'api_keys'>) =>
    workspaceId === null ? eb('api_keys.workspace_id', 'is', null) : eb('api_keys.workspace_id', '=', workspaceId);

/** Tells every process sharing the database to drop its cached copy; delivered at commit. */
export async function notifyKeyChanged(trx: Executor, keyId: string) {
  await sql`select pg_notify(${KEYS_CHANNEL}, ${keyId})`.execute(trx);
}

export async function insertKey(trx: Executor, key: NewApiKey) {
  return trx.insertInto('api_keys').values(key).returningAll().executeTakeFirstOrThrow();
}

/** The one lookup that is not workspace-scoped: the hash itself is the credential. */
export async function findKeyByHash(db: Executor, keyHash: string) {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

/** Which workspace a key belongs to (platform admin routes resolve this before scoped reads). */
export async function locateKey(db: Executor, keyId: string) {
  return db.selectFrom('api_keys').select(['workspace_id']).where('id', '=', keyId).executeTakeFirst();
}

export async function getKey(db: Executor, workspaceId: string | null, keyId: string, forUpdate = false) {
  let q = db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', keyId)
    .where(inWorkspace(workspaceId));
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listKeys(db: Executor, workspaceId: string, page: PageRequest) {
  return pageAfter(db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId), 'api_keys', page, { order: 'desc', within: { workspace_id: workspaceId } }).execute();
}

/** Held to the end of the transaction: one process at a time decides whether a bootstrap key is needed. */
export async function lockBootstrap(trx: Executor) {
  await sql`select pg_advisory_xact_lock(7243002)`.execute(trx);
}

/** This transaction's commit does not wait for the disk: losing it loses only usage counts. */
export async function commitAsynchronously(trx: Executor) {
  await sql`set local synchronous_commit = off`.execute(trx);
}

/** True when this call revoked the key; false when it already was revoked (by someone else, maybe just now). */
export async function markRevoked(trx: Executor, workspaceId: string | null, keyId: string, at: Date, reason: string): Promise<boolean> {
  const result = await trx
    .updateTable('api_keys')
    .set({ revoked_at: at, revoked_reason: reason })
    .where('id', '=', keyId)
    .where(inWorkspace(workspaceId))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function scheduleRevocation(trx: Executor, workspaceId: string | null, keyId: string, at: Date, replacedBy: string) {
  await trx
    .updateTable('api_keys')
    .set({ revoke_at: at, replaced_by: replacedBy })
    .where('id', '=', keyId)
    .where(inWorkspace(workspaceId))
    .execute();
}

/** Atomic: a usage-limited key can never be spent twice by two concurrent requests. */
export async function spendOneUse(db: Executor, keyId: string): Promise<number | null> {
  const row = await db
    .updateTable('api_keys')
    .set((eb) => ({ remaining: eb('remaining', '-', 1) }))
    .where('id', '=', keyId)
    .where('remaining', '>', 0)
    .returning('remaining')
    .executeTakeFirst();
  return row ? row.remaining : null;
}

export interface UsageBatchEntry {
  key_id: string;
  day: string;
  requests: number;
  last_used_at: string;
  last_used_ip: string | null;
}

/** Applies one process's batched usage: per-day increments and a last-used that only moves forward. */
export async function applyUsage(trx: Executor, entries: UsageBatchEntry[]) {
  for (const e of entries) {
    await trx
      .insertInto('api_key_usage_daily')
      .values({ key_id: e.key_id, day: e.day, requests: e.requests })
      .onConflict((oc) =>
        oc.columns(['key_id', 'day']).doUpdateSet({ requests: sql`api_key_usage_daily.requests + excluded.requests` }),
      )
      .execute();
    await trx
      .updateTable('api_keys')
      .set({ last_used_at: e.last_used_at, last_used_ip: e.last_used_ip })
      .where('id', '=', e.key_id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(e.last_used_at))]))
      .execute();
  }
}

export async function usageByDay(db: Executor, workspaceId: string | null, keyId: string, since: string) {
  return db
    .selectFrom('api_key_usage_daily as u')
    .innerJoin('api_keys as k', 'k.id', 'u.key_id')
    .select(['u.day', 'u.requests'])
    .where('u.key_id', '=', keyId)
    .where((eb) => (workspaceId === null ? eb('k.workspace_id', 'is', null) : eb('k.workspace_id', '=', workspaceId)))
    .where('u.day', '>=', since)
    .orderBy('u.day', 'asc')
    .execute();
}

/** Keys whose rotation grace or expiry has passed but that are not yet marked: the expiry job's work list. */
export async function keysDueForRevocation(db: Executor, now: Date, limit: number): Promise<ApiKeyRow[]> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('revoke_at', '<=', now), eb('expires_at', '<=', now)]))
    .limit(limit)
    .execute();
}

export async function countPlatformAdmins(db: Executor) {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('platform_admin', '=', true)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Moves `n` uses out of a key's count (a minted key's own share): atomic, so two mints cannot
 * both take the last ones. The uses left after, or null when fewer than `n` were left.
 */
export async function takeUses(trx: Executor, keyId: string, n: number): Promise<number | null> {
  const row = await trx
    .updateTable('api_keys')
    .set((eb) => ({ remaining: eb('remaining', '-', n) }))
    .where('id', '=', keyId)
    .where('remaining', '>=', n)
    .returning('remaining')
    .executeTakeFirst();
  return row ? row.remaining : null;
}

/** The uses left in a key's count (null: unlimited). */
export async function usesLeft(db: Executor, keyId: string): Promise<number | null> {
  const row = await db.selectFrom('api_keys').select('remaining').where('id', '=', keyId).executeTakeFirst();
  return row?.remaining ?? null;
}

/** A rotated key's successor takes its place as the minter of the keys it minted. */
export async function reparentChildren(trx: Executor, fromKeyId: string, toKeyId: string) {
  await trx.updateTable('api_keys').set({ parent_key_id: toKeyId }).where('parent_key_id', '=', fromKeyId).execute();
}

/**
 * Revokes every key minted, directly or down the line, by `keyId` that is not revoked yet; returns
 * them. Keys minted by a key are in its workspace, so the walk stays inside one tenant.
 */
export async function revokeDescendants(trx: Executor, keyId: string, at: Date): Promise<Array<{ id: string; workspace_id: string | null }>> {
  const { rows } = await sql<{ id: string; workspace_id: string | null }>`
    with recursive tree(id) as (
      select id from api_keys where parent_key_id = ${keyId}
      union
      select k.id from api_keys k join tree t on k.parent_key_id = t.id
    )
    update api_keys set revoked_at = ${at}, revoked_reason = 'minter_revoked'
    where id in (select id from tree) and revoked_at is null
    returning id, workspace_id`.execute(trx);
  return rows;
}
