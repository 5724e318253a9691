import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { rewrapSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { adminBinding, workspaceBinding } from './service.js';
import * as store from './store.js';

export interface RewrapReport {
  active: string;
  total: number;
  rewrapped: number;
  failures: Array<{ credential_id?: string; instance_id?: string; field: string; reason: string }>;
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
  const skipWs: string[] = [];
  const skipAdmin: string[] = [];
  let rewrapped = 0;
  const progress = () => onProgress?.(rewrapped + failures.length, total);
  progress();

  for (;;) {
    const batch = await store.staleWorkspaceSecrets(db, ring.active, 200, skipWs);
    if (batch.length === 0) break;
    for (const s of batch) {
      try {
        const next = rewrapSecret(ring, s, workspaceBinding(s.workspace_id, s.provider, s.field));
        if (await store.replaceWrappedKey(db, 'credential_secrets', { credential_id: s.credential_id, field: s.field }, s, next)) rewrapped++;
      } catch (err) {
        failures.push({ credential_id: s.credential_id, field: s.field, reason: (err as Error).message });
        skipWs.push(`${s.credential_id}|${s.field}`);
      }
      progress();
    }
  }
  for (;;) {
    const batch = await store.staleAdminSecrets(db, ring.active, 200, skipAdmin);
    if (batch.length === 0) break;
    for (const s of batch) {
      try {
        const next = rewrapSecret(ring, s, adminBinding(s.instance_id, s.provider));
        if (await store.replaceWrappedKey(db, 'instance_admin_secrets', { instance_id: s.instance_id }, s, next)) rewrapped++;
      } catch (err) {
        failures.push({ instance_id: s.instance_id, field: 'api_key', reason: (err as Error).message });
        skipAdmin.push(s.instance_id);
      }
      progress();
    }
  }
  return { active: ring.active, total, rewrapped, failures, remaining: await store.countStale(db, ring.active) };
}
