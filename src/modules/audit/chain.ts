import { createHash } from 'node:crypto';
import type { AuditRow } from '../../db/types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields an entry's hash covers: all of the row but its position and the hashes themselves. */
export type ChainedFields = Omit<AuditRow, 'seq' | 'at' | 'prev_hash' | 'hash'> & { at: string };

/** JSON with keys sorted at every depth: jsonb reorders keys, the hash must not care. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function entryHash(prevHash: string, fields: ChainedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}
