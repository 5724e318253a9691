import type { Executor } from '../../db/types.js';
import type { MasterKeyRing } from '../../lib/envelope.js';
import { rotatingSecrets } from '../../db/rotating-secrets.js';
import { openHeaders } from './headers.js';
import { getSealedHeaders } from './store.js';

export type SecretPurpose = 'signing' | 'signing_previous' | 'auth_token';

export const ENDPOINTS_CHANNEL = 'gatehouse_endpoints';

// Bound to the endpoint and the secret's purpose: a ciphertext copied to another endpoint, or from
// the auth token's row to the signing secret's, fails to decrypt.
export const endpointSecrets = rotatingSecrets<SecretPurpose>({
  table: 'webhook_endpoint_secrets', ownerColumn: 'endpoint_id', bindingPrefix: 'endpoint', channel: ENDPOINTS_CHANNEL,
});

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
      const now = Date.now();
      const opened = await endpointSecrets.open(db, ring, endpointId, now);
      const sealedHeaders = await getSealedHeaders(db, endpointId);
      const value = { signing: opened.signing, authToken: opened.other('auth_token'), headers: sealedHeaders ? openHeaders(ring, endpointId, sealedHeaders) : {} };
      cache.set(endpointId, { value, until: Math.min(now + ttlMs, opened.validUntil) });
      return value;
    },
    evict(endpointId: string) {
      if (endpointId === '*') cache.clear();
      else cache.delete(endpointId);
    },
  };
}
export type SecretReader = ReturnType<typeof createSecretReader>;
