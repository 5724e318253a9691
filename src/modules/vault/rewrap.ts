import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { decryptSecret, rewrapSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { countSealed, replaceWrappedKey, SEALED_TABLES, walkSealed, type Row } from './sealed.js';

export interface SecretFailure {
  table: string;
  /** The row's key columns, e.g. `{credential_id, field}`. */
  id: Record<string, string>;
  reason: string;
}

export interface RewrapReport {
  active: string;
  total: number;
  rewrapped: number;
  failures: SecretFailure[];
  remaining: number;
}

const failure = (table: { table: string; keys: readonly string[] }, row: Row, reason: string): SecretFailure => ({
  table: table.table,
  id: Object.fromEntries(table.keys.map((k) => [k, row[k]!])),
  reason,
});

/**
 * Moves every data key to the active master key, a batch at a time. Only the wrapped data key
 * changes (the ciphertext stays), each row independently and compare-and-set, so the service keeps
 * running and an interrupted run simply continues where it stopped when started again.
 */
export async function rewrapDataKeys(db: Kysely<DB>, ring: MasterKeyRing, onProgress?: (done: number, total: number) => void): Promise<RewrapReport> {
  const total = await countSealed(db, { notOn: ring.active });
  const failures: SecretFailure[] = [];
  let rewrapped = 0;
  const progress = () => onProgress?.(rewrapped + failures.length, total);
  progress();
  for (const t of SEALED_TABLES) {
    for await (const batch of walkSealed(db, t, { notOn: ring.active })) {
      for (const row of batch) {
        try {
          if (await replaceWrappedKey(db, t, row, rewrapSecret(ring, row, t.binding(row)))) rewrapped++;
        } catch (err) {
          failures.push(failure(t, row, (err as Error).message));
        }
        progress();
      }
    }
  }
  return { active: ring.active, total, rewrapped, failures, remaining: await countSealed(db, { notOn: ring.active }) };
}

/**
 * Opens every sealed secret with the master keys at hand and reports those that do not open:
 * after a restore, proof that the database and the key file belong together.
 */
export async function checkSecrets(db: Kysely<DB>, ring: MasterKeyRing): Promise<{ total: number; opened: number; failures: SecretFailure[] }> {
  const failures: SecretFailure[] = [];
  let opened = 0;
  for (const t of SEALED_TABLES) {
    for await (const batch of walkSealed(db, t)) {
      for (const row of batch) {
        try {
          decryptSecret(ring, row, t.binding(row));
          opened++;
        } catch (err) {
          failures.push(failure(t, row, (err as Error).message));
        }
      }
    }
  }
  return { total: opened + failures.length, opened, failures };
}
