import { createHash } from 'node:crypto';
import type { AuditRow } from '../../db/types.js';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The fields an entry's hash covers: all of the row but its position and the hashes themselves.
 * `organization_id` came later: it is hashed only when set, so entries written before keep their hashes.
 */
export type ChainedFields = Omit<AuditRow, 'seq' | 'at' | 'prev_hash' | 'hash' | 'organization_id'> & { at: string; organization_id?: string };

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

/** What an entry's hash covers, read back from its row. */
export const fieldsOf = (row: AuditRow | (ChainedFields & { at: string | Date })): ChainedFields => ({
  id: row.id,
  organization_id: row.organization_id ?? undefined,
  at: new Date(row.at).toISOString(),
  workspace_id: row.workspace_id,
  actor_type: row.actor_type,
  actor_id: row.actor_id,
  actor_ip: row.actor_ip,
  user_agent: row.user_agent,
  request_id: row.request_id,
  action: row.action,
  category: row.category,
  severity: row.severity,
  resource_type: row.resource_type,
  resource_id: row.resource_id,
  before: row.before ?? null,
  after: row.after ?? null,
  outcome: row.outcome,
});
