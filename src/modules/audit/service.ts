import type { Kysely } from 'kysely';
import type { AuditRow, DB, Executor } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { newId } from '../../lib/ids.js';
import { redactSecrets } from '../../lib/logger.js';
import { GENESIS_HASH, entryHash, type ChainedFields } from './chain.js';
import * as store from './store.js';

export interface AuditEvent {
  workspaceId: string | null;
  action: string;
  category: 'tenancy' | 'keys' | 'auth' | 'audit' | 'system' | 'credentials' | 'upstream' | 'webhooks';
  severity?: 'info' | 'warning' | 'critical';
  resource?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  outcome?: 'success' | 'failure';
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  first_bad?: { seq: string; id: string; reason: 'hash_mismatch' | 'broken_link' };
}

/** Drops credential-named fields entirely (not masked): an audit entry never holds a secret. */
function withoutSecrets(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const json = JSON.parse(JSON.stringify(value));
  const masked = redactSecrets(json) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(masked, (_k, v) => (v === '[redacted]' ? undefined : v)));
}

export const fieldsOf = (row: AuditRow | (ChainedFields & { at: string | Date })): ChainedFields => ({
  id: row.id,
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

export function createAuditService({ db }: { db: Kysely<DB> }) {
  /** Appends inside the caller's transaction, so the entry commits with the change it records. */
  async function append(trx: Executor, actor: Actor, event: AuditEvent): Promise<void> {
    const prevHash = await store.lockChainHead(trx);
    const fields: ChainedFields = {
      id: newId('aud'),
      at: new Date().toISOString(),
      workspace_id: event.workspaceId,
      actor_type: actor.type,
      actor_id: actor.id,
      actor_ip: actor.ip,
      user_agent: actor.userAgent,
      request_id: actor.requestId,
      action: event.action,
      category: event.category,
      severity: event.severity ?? 'info',
      resource_type: event.resource?.type ?? null,
      resource_id: event.resource?.id ?? null,
      before: withoutSecrets(event.before),
      after: withoutSecrets(event.after),
      outcome: event.outcome ?? 'success',
    };
    await store.insertEntry(trx, {
      ...fields,
      severity: fields.severity as AuditRow['severity'],
      outcome: fields.outcome as AuditRow['outcome'],
      before: fields.before === null ? null : JSON.stringify(fields.before),
      after: fields.after === null ? null : JSON.stringify(fields.after),
      prev_hash: prevHash,
      hash: entryHash(prevHash, fields),
    });
  }

  /** For events with no surrounding change (a failed sign-in): its own small transaction. */
  const record = (actor: Actor, event: AuditEvent) => db.transaction().execute((trx) => append(trx, actor, event));

  /** Walks the whole chain in pages; names the first entry whose hash or link does not hold. */
  async function verify(onProgress?: (checked: number) => void): Promise<VerifyResult> {
    let prev = GENESIS_HASH;
    let cursor = '0';
    let count = 0;
    for (;;) {
      const page = await store.chainPage(db, cursor, 1000);
      for (const row of page) {
        if (row.prev_hash !== prev) {
          return { ok: false, entries: count, first_bad: { seq: row.seq, id: row.id, reason: 'broken_link' } };
        }
        if (entryHash(prev, fieldsOf(row)) !== row.hash) {
          return { ok: false, entries: count, first_bad: { seq: row.seq, id: row.id, reason: 'hash_mismatch' } };
        }
        prev = row.hash;
        count++;
      }
      onProgress?.(count);
      if (page.length < 1000) return { ok: true, entries: count };
      cursor = page[page.length - 1].seq;
    }
  }

  return { append, record, verify, list: (filter: store.AuditFilter, limit: number) => store.listEntries(db, filter, limit) };
}

export type AuditService = ReturnType<typeof createAuditService>;
