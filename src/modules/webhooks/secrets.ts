import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { openHeaders } from './headers.js';

export type SecretPurpose = 'signing' | 'signing_previous' | 'auth_token';

// Bound to the endpoint and the secret's purpose: a ciphertext copied to another endpoint, or from
// the auth token's row to the signing secret's, fails to decrypt.
export const endpointBinding = (endpointId: string, purpose: SecretPurpose) => `endpoint:${endpointId}|${purpose === 'signing_previous' ? 'signing' : purpose}`;

export const ENDPOINTS_CHANNEL = 'gatehouse_endpoints';

export async function putSecret(trx: Executor, ring: MasterKeyRing, endpointId: string, purpose: SecretPurpose, value: string, expiresAt: Date | null = null) {
  const sealed = encryptSecret(ring, value, endpointBinding(endpointId, purpose));
  const row = { endpoint_id: endpointId, purpose, ...sealed, mask: maskSecret(value), expires_at: expiresAt, updated_at: new Date() };
  await trx
    .insertInto('webhook_endpoint_secrets')
    .values(row)
    .onConflict((oc) => oc.columns(['endpoint_id', 'purpose']).doUpdateSet({ ...sealed, mask: row.mask, expires_at: expiresAt, updated_at: row.updated_at }))
    .execute();
}

export async function deleteSecret(trx: Executor, endpointId: string, purpose: SecretPurpose) {
  await trx.deleteFrom('webhook_endpoint_secrets').where('endpoint_id', '=', endpointId).where('purpose', '=', purpose).execute();
}

/** Tells every process to drop its decrypted copy of this endpoint's secrets (sent at commit). */
export const notifyEndpointChanged = (trx: Executor, endpointId: string) => sql`select pg_notify(${ENDPOINTS_CHANNEL}, ${endpointId})`.execute(trx);

/** Moves the current signing secret to `signing_previous` (valid until `until`) in one statement. */
export async function retireSigningSecret(trx: Executor, endpointId: string, until: Date) {
  await deleteSecret(trx, endpointId, 'signing_previous');
  await trx
    .updateTable('webhook_endpoint_secrets')
    .set({ purpose: 'signing_previous', expires_at: until, updated_at: new Date() })
    .where('endpoint_id', '=', endpointId)
    .where('purpose', '=', 'signing')
    .execute();
}

export interface EndpointSecrets {
  /** Newest first: the current secret, then the previous one while its overlap lasts. */
  signing: string[];
  authToken: string | null;
  /** The custom header values, opened (those sealed; plain-text ones from before come with the claim). */
  headers: Record<string, string>;
}

/**
 * Decrypted secrets for the delivery worker, kept for a short time per endpoint; a change anywhere
 * evicts them through NOTIFY, and an expired previous secret stops signing on the next read.
 */
export function createSecretReader(db: Executor, ring: MasterKeyRing, ttlMs = 30_000) {
  const cache = new Map<string, { value: EndpointSecrets; until: number }>();
  return {
    async read(endpointId: string): Promise<EndpointSecrets> {
      const hit = cache.get(endpointId);
      if (hit && hit.until > Date.now()) return hit.value;
      const rows = await db.selectFrom('webhook_endpoint_secrets').selectAll().where('endpoint_id', '=', endpointId).execute();
      const sealedHeaders = await db.selectFrom('webhook_endpoint_headers').selectAll().where('endpoint_id', '=', endpointId).executeTakeFirst();
      const now = Date.now();
      const open = (purpose: SecretPurpose) => {
        const r = rows.find((x) => x.purpose === purpose);
        if (!r || (r.expires_at && r.expires_at.getTime() <= now)) return null;
        return decryptSecret(ring, r, endpointBinding(endpointId, purpose));
      };
      const signing = [open('signing'), open('signing_previous')].filter((s): s is string => s !== null);
      const value = { signing, authToken: open('auth_token'), headers: sealedHeaders ? openHeaders(ring, endpointId, sealedHeaders) : {} };
      const previous = rows.find((x) => x.purpose === 'signing_previous')?.expires_at?.getTime();
      cache.set(endpointId, { value, until: Math.min(now + ttlMs, previous && previous > now ? previous : Infinity) });
      return value;
    },
    evict(endpointId: string) {
      if (endpointId === '*') cache.clear();
      else cache.delete(endpointId);
    },
  };
}
export type SecretReader = ReturnType<typeof createSecretReader>;
