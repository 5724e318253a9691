import type { Kysely } from 'kysely';
import { countSealed, replaceWrappedKey, walkSealed, type SealedRow, type SealedTable } from '../../db/sealed.js';
import type { DB } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';

export type { SealedRow };

/**
 * A module's sealed columns, as the vault walks them to re-wrap data keys or to check that every
 * secret opens: each module that seals something implements this over its own store, so the vault
 * names no other module's table.
 */
export interface SealedColumns {
  /** The table, as reports name it. */
  table: string;
  /** The row's identity (its primary key), in the order a report names it. */
  keys: readonly string[];
  count(opts?: { notOn?: string }): Promise<number>;
  walk(opts?: { notOn?: string; size?: number }): AsyncGenerator<SealedRow[]>;
  /** The envelope's additional data, rebuilt from where the row is (never read back from it). */
  binding(row: SealedRow): string;
  /** Compare-and-set: false when the secret changed since it was read. */
  replaceWrappedKey(row: SealedRow, next: Sealed): Promise<boolean>;
}

/** SealedColumns over a table a store describes. */
export function sealedColumns(db: Kysely<DB>, table: SealedTable, binding: (row: SealedRow) => string): SealedColumns {
  return {
    table: table.table,
    keys: table.keys,
    count: (opts) => countSealed(db, table, opts),
    walk: (opts) => walkSealed(db, table, opts),
    binding,
    replaceWrappedKey: (row, next) => replaceWrappedKey(db, table, row, next),
  };
}
