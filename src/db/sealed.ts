import { sql, type RawBuilder } from 'kysely';
import type { Executor } from './types.js';
import type { Sealed } from '../lib/envelope.js';

/** A sealed row as walked: its key columns and binding columns by name, and its envelope. */
export type SealedRow = Sealed & Record<string, string>;

/**
 * A table of sealed secrets as its owning module's store describes it: its key columns (the
 * primary key, in the order a report names them), what to read it from (joined to whatever its
 * binding needs) and those extra columns.
 */
export interface SealedTable {
  table: string;
  keys: readonly string[];
  from: RawBuilder<unknown>;
  extra: RawBuilder<unknown>;
}

/**
 * A table's sealed rows in key order, `size` at a time (keyset pagination, so rows that fail or
 * change meanwhile never stall the walk); with `notOn`, only those wrapped by another master key.
 */
export async function* walkSealed(db: Executor, t: SealedTable, opts: { notOn?: string; size?: number } = {}): AsyncGenerator<SealedRow[]> {
  const keys = sql.join(t.keys.map((k) => sql.ref(`s.${k}`)));
  let after: string[] | null = null;
  for (;;) {
    const r: { rows: SealedRow[] } = await sql<SealedRow>`
      select ${keys}, ${t.extra}, s.master_version, s.wrapped_key, s.ciphertext
      from ${t.from}
      where true ${after ? sql`and (${keys}) > (${sql.join(after)})` : sql``} ${opts.notOn ? sql`and s.master_version <> ${opts.notOn}` : sql``}
      order by ${keys} limit ${opts.size ?? 200}`.execute(db);
    const last = r.rows.at(-1);
    if (!last) return;
    yield r.rows;
    after = t.keys.map((k): string => last[k] ?? '');
  }
}

export async function countSealed(db: Executor, t: SealedTable, opts: { notOn?: string } = {}) {
  const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(t.table)} ${opts.notOn ? sql`where master_version <> ${opts.notOn}` : sql``}`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/** Compare-and-set: only replaces the wrapped key if nobody changed the secret meanwhile. */
export async function replaceWrappedKey(db: Executor, t: SealedTable, row: SealedRow, next: Sealed) {
  const where = sql.join(t.keys.map((k) => sql`${sql.ref(k)} = ${row[k]}`), sql` and `);
  const r = await sql`update ${sql.table(t.table)} set master_version = ${next.master_version}, wrapped_key = ${next.wrapped_key}
    where ${where} and wrapped_key = ${row.wrapped_key}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}
