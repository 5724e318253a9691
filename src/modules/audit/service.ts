import { existsSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { AuditRow, DB, Executor } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { newId } from '../../lib/ids.js';
import { redactSecrets } from '../../lib/logger.js';
import { entryHash, type ChainedFields } from './chain.js';
import { createCheckpointService, type AuditAnchor } from './checkpoints.js';
import * as store from './store.js';
import { verifyAuditChain, type VerifyOptions } from './verify.js';

export type { VerifyResult } from './verify.js';

export interface AuditEvent {
  workspaceId: string | null;
  /** The organization an entry concerns, when it is not one workspace's: its owners read it in their trail. */
  organizationId?: string | null;
  action: string;
  category: 'tenancy' | 'keys' | 'auth' | 'audit' | 'system' | 'credentials' | 'upstream' | 'webhooks';
  severity?: 'info' | 'warning' | 'critical';
  resource?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  outcome?: 'success' | 'failure';
}

/** Drops credential-named fields entirely (not masked): an audit entry never holds a secret. */
function withoutSecrets(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const json = JSON.parse(JSON.stringify(value));
  const masked = redactSecrets(json) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(masked, (_k, v) => (v === '[redacted]' ? undefined : v)));
}

export function createAuditService({ db, anchor }: { db: Kysely<DB>; anchor: AuditAnchor }) {
  /** Appends inside the caller's transaction, so the entry commits with the change it records. */
  async function append(trx: Executor, actor: Actor, event: AuditEvent): Promise<void> {
    const head = await store.lockChainHead(trx);
    const prevHash = head.hash;
    const fields: ChainedFields = {
      id: newId('aud'),
      at: new Date().toISOString(),
      workspace_id: event.workspaceId,
      organization_id: event.organizationId ?? undefined,
      actor_type: actor.type,
      actor_id: actor.id,
      actor_ip: store.storedHeader(actor.ip),
      user_agent: store.storedHeader(actor.userAgent),
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
    await store.insertEntry(trx, head.seq, {
      ...fields,
      organization_id: fields.organization_id ?? null,
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

  const checkpoints = createCheckpointService(db, anchor);

  /** The chain against itself and its signed checkpoints (see verifyAuditChain). */
  // The file sink counts by default once it exists: a chain cut back together with its checkpoint rows still shows.
  const verify = (opts: VerifyOptions = {}) =>
    verifyAuditChain(db, anchor.keys, { checkpointFile: anchor.checkpointFile && existsSync(anchor.checkpointFile) ? anchor.checkpointFile : undefined, ...opts });

  return {
    append, record, verify, checkpoints, close: () => anchor.sinks.close(),
    list: (filter: store.AuditFilter, limit: number) => store.listEntries(db, filter, limit),
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
