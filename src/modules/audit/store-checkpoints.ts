import type { AuditCheckpointRow, Executor } from '../../db/types.js';

export type CheckpointRow = AuditCheckpointRow;

/** The newest committed entry: appends hold the chain lock until commit, so committed seqs are 1..head. */
export async function chainHead(db: Executor): Promise<{ seq: string; hash: string } | undefined> {
  return db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

export async function insertCheckpoint(db: Executor, row: Omit<CheckpointRow, 'id' | 'at'> & { at: string }): Promise<CheckpointRow> {
  return db.insertInto('audit_checkpoints').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function latestCheckpoint(db: Executor): Promise<CheckpointRow | undefined> {
  return db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Newest first, continuing below `before` (an id). */
export async function listCheckpoints(db: Executor, limit: number, before?: string): Promise<CheckpointRow[]> {
  let q = db.selectFrom('audit_checkpoints').selectAll();
  if (before) q = q.where('id', '<', before);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** Oldest first by id, for verification in pages. */
export async function checkpointPage(db: Executor, afterId: string, limit: number): Promise<CheckpointRow[]> {
  return db.selectFrom('audit_checkpoints').selectAll().where('id', '>', afterId).orderBy('id', 'asc').limit(limit).execute();
}

export async function entryHashes(db: Executor, seqs: string[]): Promise<Map<string, { id: string; hash: string }>> {
  if (seqs.length === 0) return new Map();
  const rows = await db.selectFrom('audit_log').select(['seq', 'id', 'hash']).where('seq', 'in', seqs).execute();
  return new Map(rows.map((r) => [String(r.seq), { id: r.id, hash: r.hash }]));
}

/** Gaps at or below this seq come from the old sequence numbering (migration 013), not from a deletion. */
export async function gaplessAfter(db: Executor): Promise<bigint> {
  const row = await db.selectFrom('audit_seq_origin').select((eb) => eb.fn.min('gapless_after').as('n')).executeTakeFirst();
  return BigInt(row?.n ?? 0);
}
