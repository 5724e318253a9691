import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { rewrapSecret, type MasterKeyRing, type Sealed } from '../../lib/envelope.js';
import { userBinding } from '../auth/service.js';
import { sourceBinding } from '../inbound/secrets.js';
import { endpointBinding } from '../webhooks/secrets.js';
import { adminBinding, workspaceBinding } from './service.js';
import * as store from './store.js';

export interface RewrapReport {
  active: string;
  total: number;
  rewrapped: number;
  failures: Array<{ credential_id?: string; instance_id?: string; endpoint_id?: string; source_id?: string; user_id?: string; field: string; reason: string }>;
  remaining: number;
}

/**
 * Moves every data key to the active master key, a batch at a time. Only the wrapped data key
 * changes (the ciphertext stays), each row independently and compare-and-set, so the service keeps
 * running and an interrupted run simply continues where it stopped when started again.
 */
export async function rewrapDataKeys(db: Kysely<DB>, ring: MasterKeyRing, onProgress?: (done: number, total: number) => void): Promise<RewrapReport> {
  const total = await store.countStale(db, ring.active);
  const failures: RewrapReport['failures'] = [];
  let rewrapped = 0;
  const progress = () => onProgress?.(rewrapped + failures.length, total);
  progress();

  /** One table: batches of stale rows until none is left but those that failed (skipped by key). */
  async function pass<R extends Sealed>(p: {
    batch: (skip: string[]) => Promise<R[]>;
    keyOf: (r: R) => string;
    binding: (r: R) => string;
    table: Parameters<typeof store.replaceWrappedKey>[1];
    where: (r: R) => Record<string, string>;
    failure: (r: R, reason: string) => RewrapReport['failures'][number];
  }) {
    const skip: string[] = [];
    for (;;) {
      const batch = await p.batch(skip);
      if (batch.length === 0) return;
      for (const r of batch) {
        try {
          if (await store.replaceWrappedKey(db, p.table, p.where(r), r, rewrapSecret(ring, r, p.binding(r)))) rewrapped++;
        } catch (err) {
          failures.push(p.failure(r, (err as Error).message));
          skip.push(p.keyOf(r));
        }
        progress();
      }
    }
  }

  await pass({
    batch: (skip) => store.staleWorkspaceSecrets(db, ring.active, 200, skip),
    keyOf: (s) => `${s.credential_id}|${s.field}`,
    binding: (s) => workspaceBinding(s.workspace_id, s.provider, s.field),
    table: 'credential_secrets',
    where: (s) => ({ credential_id: s.credential_id, field: s.field }),
    failure: (s, reason) => ({ credential_id: s.credential_id, field: s.field, reason }),
  });
  await pass({
    batch: (skip) => store.staleAdminSecrets(db, ring.active, 200, skip),
    keyOf: (s) => s.instance_id,
    binding: (s) => adminBinding(s.instance_id, s.provider),
    table: 'instance_admin_secrets',
    where: (s) => ({ instance_id: s.instance_id }),
    failure: (s, reason) => ({ instance_id: s.instance_id, field: 'api_key', reason }),
  });
  await pass({
    batch: (skip) => store.staleEndpointSecrets(db, ring.active, 200, skip),
    keyOf: (s) => `${s.endpoint_id}|${s.purpose}`,
    binding: (s) => endpointBinding(s.endpoint_id, s.purpose),
    table: 'webhook_endpoint_secrets',
    where: (s) => ({ endpoint_id: s.endpoint_id, purpose: s.purpose }),
    failure: (s, reason) => ({ endpoint_id: s.endpoint_id, field: s.purpose, reason }),
  });
  await pass({
    batch: (skip) => store.staleSourceSecrets(db, ring.active, 200, skip),
    keyOf: (s) => `${s.source_id}|${s.purpose}`,
    binding: (s) => sourceBinding(s.source_id, s.purpose),
    table: 'inbound_source_secrets',
    where: (s) => ({ source_id: s.source_id, purpose: s.purpose }),
    failure: (s, reason) => ({ source_id: s.source_id, field: s.purpose, reason }),
  });
  await pass({
    batch: (skip) => store.staleUserSecrets(db, ring.active, 200, skip),
    keyOf: (s) => `${s.user_id}|${s.purpose}`,
    binding: (s) => userBinding(s.user_id),
    table: 'user_secrets',
    where: (s) => ({ user_id: s.user_id, purpose: s.purpose }),
    failure: (s, reason) => ({ user_id: s.user_id, field: s.purpose, reason }),
  });
  return { active: ring.active, total, rewrapped, failures, remaining: await store.countStale(db, ring.active) };
}
