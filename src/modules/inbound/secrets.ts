import type { Executor } from '../../db/types.js';
import type { MasterKeyRing } from '../../lib/envelope.js';
import { rotatingSecrets } from '../../db/rotating-secrets.js';

export type SourceSecretPurpose = 'signing' | 'signing_previous' | 'verify_token';

export const SOURCES_CHANNEL = 'gatehouse_inbound_sources';

// Bound to the source and purpose: a ciphertext copied to another source, or from the verify
// token's row to the signing secret's, fails to decrypt.
export const sourceSecrets = rotatingSecrets<SourceSecretPurpose>({
  table: 'inbound_source_secrets', ownerColumn: 'source_id', bindingPrefix: 'inbound', channel: SOURCES_CHANNEL,
});

export interface OpenedSecrets {
  /** Current first, then the previous one while its overlap lasts. */
  signing: string[];
  verifyToken: string | null;
  /** When the answer changes by itself (the previous secret expiring). */
  validUntil: number;
}

export async function openSourceSecrets(db: Executor, ring: MasterKeyRing, sourceId: string, now = Date.now()): Promise<OpenedSecrets> {
  const opened = await sourceSecrets.open(db, ring, sourceId, now);
  return { signing: opened.signing, verifyToken: opened.other('verify_token'), validUntil: opened.validUntil };
}

export async function secretMasks(db: Executor, sourceId: string) {
  const of = await sourceSecrets.masks(db, sourceId);
  return {
    secret: of('signing')?.mask ?? null,
    verify_token: of('verify_token')?.mask ?? null,
    previous_secret_expires_at: of('signing_previous')?.expires_at?.toISOString() ?? null,
  };
}
