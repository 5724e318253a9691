import { sql } from 'kysely';
import type { AuditRow, Executor, NewAuditRow } from '../../db/types.js';
import { GENESIS_HASH } from './chain.js';

// Any constant works; it only has to be the same in every process.
const AUDIT_CHAIN_LOCK = 0x6761_7465;

// Header values are cut (storedHeader) before the entry is hashed, so the chain covers exactly what is stored.
export { STORED_HEADER_MAX, storedHeader } from '../../lib/stored-header.js';

export interface AuditFilter {
  workspaceId?: string;
  /** An organization's trail: entries naming it, and every entry of its workspaces (listed by the caller). */
  organization?: { id: string; workspaceIds: readonly string[] };
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  from?: Date;
  to?: Date;
  /** Continue after this seq in the chosen order (the previous page's next_cursor). */
  cursor?: string;
  order?: 'asc' | 'desc';
}

/**
 * Serialises appenders until their transaction commits, so each entry links to the one committed
 * before it. Returns the hash to link to.
 */
export async function lockChainHead(trx: Executor): Promise<{ seq: string; hash: string }> {
  await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(trx);
  const head = await trx.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return { seq: head?.seq ?? '0', hash: head?.hash ?? GENESIS_HASH };
}

/**
 * Inserts at seq = head + 1, so seq has no gaps (a sequence skips a value when a transaction rolls
 * back) and a missing seq means a deleted entry. setval keeps the column's sequence level with it,
 * for a previous release still appending through the column default during an upgrade.
 */
export async function insertEntry(trx: Executor, headSeq: string, row: Omit<NewAuditRow, 'seq'>) {
  const seq = sql<string>`setval(pg_get_serial_sequence('audit_log', 'seq'), ${(BigInt(headSeq) + 1n).toString()})`;
  await trx.insertInto('audit_log').values({ ...row, seq }).execute();
}

export async function listEntries(db: Executor, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (filter.workspaceId) q = q.where('workspace_id', '=', filter.workspaceId);
  const org = filter.organization;
  if (org) {
    q = q.where((eb) => eb.or([eb('organization_id', '=', org.id), ...(org.workspaceIds.length ? [eb('workspace_id', 'in', org.workspaceIds)] : [])]));
  }
  if (filter.actor) q = q.where('actor_id', '=', filter.actor);
  if (filter.action) {
    // `key.*` selects a family of actions.
    q = filter.action.endsWith('*')
      ? q.where('action', 'like', filter.action.slice(0, -1).replace(/[%_\\]/g, '\\$&') + '%')
      : q.where('action', '=', filter.action);
  }
  if (filter.resourceType) q = q.where('resource_type', '=', filter.resourceType);
  if (filter.resourceId) q = q.where('resource_id', '=', filter.resourceId);
  if (filter.from) q = q.where('at', '>=', filter.from);
  if (filter.to) q = q.where('at', '<', filter.to);
  const order = filter.order ?? 'desc';
  if (filter.cursor) q = q.where('seq', order === 'asc' ? '>' : '<', filter.cursor);
  return q.orderBy('seq', order).limit(limit).execute();
}

export async function chainPage(db: Executor, afterSeq: string, limit: number): Promise<AuditRow[]> {
  return db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq', 'asc').limit(limit).execute();
}
