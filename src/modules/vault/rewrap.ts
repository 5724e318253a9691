import { decryptSecret, rewrapSecret, type MasterKeyRing } from '../../lib/envelope.js';
import type { SealedColumns, SealedRow } from './sealed.js';

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

const failure = (t: SealedColumns, row: SealedRow, reason: string): SecretFailure => ({
  table: t.table,
  id: Object.fromEntries(t.keys.map((k) => [k, row[k] ?? ''])),
  reason,
});

async function countAll(sources: readonly SealedColumns[], opts: { notOn?: string } = {}) {
  let n = 0;
  for (const t of sources) n += await t.count(opts);
  return n;
}

/**
 * Moves every data key to the active master key, a batch at a time. Only the wrapped data key
 * changes (the ciphertext stays), each row independently and compare-and-set, so the service keeps
 * running and an interrupted run simply continues where it stopped when started again.
 */
export async function rewrapDataKeys(sources: readonly SealedColumns[], ring: MasterKeyRing, onProgress?: (done: number, total: number) => void): Promise<RewrapReport> {
  const total = await countAll(sources, { notOn: ring.active });
  const failures: SecretFailure[] = [];
  let rewrapped = 0;
  const progress = () => onProgress?.(rewrapped + failures.length, total);
  progress();
  for (const t of sources) {
    for await (const batch of t.walk({ notOn: ring.active })) {
      for (const row of batch) {
        try {
          if (await t.replaceWrappedKey(row, rewrapSecret(ring, row, t.binding(row)))) rewrapped++;
        } catch (err) {
          failures.push(failure(t, row, (err as Error).message));
        }
        progress();
      }
    }
  }
  return { active: ring.active, total, rewrapped, failures, remaining: await countAll(sources, { notOn: ring.active }) };
}

/**
 * Opens every sealed secret with the master keys at hand and reports those that do not open:
 * after a restore, proof that the database and the key file belong together.
 */
export async function checkSecrets(sources: readonly SealedColumns[], ring: MasterKeyRing): Promise<{ total: number; opened: number; failures: SecretFailure[] }> {
  const failures: SecretFailure[] = [];
  let opened = 0;
  for (const t of sources) {
    for await (const batch of t.walk()) {
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
