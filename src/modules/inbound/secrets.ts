import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing } from '../../lib/envelope.js';

export type SourceSecretPurpose = 'signing' | 'signing_previous' | 'verify_token';

// Bound to the source and purpose: a ciphertext copied to another source, or from the verify
// token's row to the signing secret's, fails to decrypt.
export const sourceBinding = (sourceId: string, purpose: SourceSecretPurpose) => `inbound:${sourceId}|${purpose === 'signing_previous' ? 'signing' : purpose}`;

export const SOURCES_CHANNEL = 'gatehouse_inbound_sources';

/** Tells every process to drop its copy of this source (sent at commit). */
export const notifySourceChanged = (trx: Executor, sourceId: string) => sql`select pg_notify(${SOURCES_CHANNEL}, ${sourceId})`.execute(trx);

export async function putSourceSecret(trx: Executor, ring: MasterKeyRing, sourceId: string, purpose: SourceSecretPurpose, value: string, expiresAt: Date | null = null) {
  const sealed = encryptSecret(ring, value, sourceBinding(sourceId, purpose));
  const row = { source_id: sourceId, purpose, ...sealed, mask: maskSecret(value), expires_at: expiresAt, updated_at: new Date() };
  await trx
    .insertInto('inbound_source_secrets')
    .values(row)
    .onConflict((oc) => oc.columns(['source_id', 'purpose']).doUpdateSet({ ...sealed, mask: row.mask, expires_at: expiresAt, updated_at: row.updated_at }))
    .execute();
}

/** Moves the current secret to `signing_previous`, accepted until `until` (or drops it when `until` is null). */
export async function retireSourceSecret(trx: Executor, sourceId: string, until: Date | null) {
  await trx.deleteFrom('inbound_source_secrets').where('source_id', '=', sourceId).where('purpose', '=', 'signing_previous').execute();
  if (until === null) {
    await trx.deleteFrom('inbound_source_secrets').where('source_id', '=', sourceId).where('purpose', '=', 'signing').execute();
    return;
  }
  await trx
    .updateTable('inbound_source_secrets')
    .set({ purpose: 'signing_previous', expires_at: until, updated_at: new Date() })
    .where('source_id', '=', sourceId)
    .where('purpose', '=', 'signing')
    .execute();
}

export interface OpenedSecrets {
  /** Current first, then the previous one while its overlap lasts. */
  signing: string[];
  verifyToken: string | null;
  /** When the answer changes by itself (the previous secret expiring). */
  validUntil: number;
}

export async function openSourceSecrets(db: Executor, ring: MasterKeyRing, sourceId: string, now = Date.now()): Promise<OpenedSecrets> {
  const rows = await db.selectFrom('inbound_source_secrets').selectAll().where('source_id', '=', sourceId).execute();
  const open = (purpose: SourceSecretPurpose) => {
    const r = rows.find((x) => x.purpose === purpose);
    if (!r || (r.expires_at && r.expires_at.getTime() <= now)) return null;
    return decryptSecret(ring, r, sourceBinding(sourceId, purpose));
  };
  const previous = rows.find((x) => x.purpose === 'signing_previous')?.expires_at?.getTime();
  return {
    signing: [open('signing'), open('signing_previous')].filter((s): s is string => s !== null),
    verifyToken: open('verify_token'),
    validUntil: previous && previous > now ? previous : Infinity,
  };
}

export async function secretMasks(db: Executor, sourceId: string) {
  const rows = await db.selectFrom('inbound_source_secrets').select(['purpose', 'mask', 'expires_at']).where('source_id', '=', sourceId).execute();
  const of = (p: SourceSecretPurpose) => rows.find((r) => r.purpose === p);
  return {
    secret: of('signing')?.mask ?? null,
    verify_token: of('verify_token')?.mask ?? null,
    previous_secret_expires_at: of('signing_previous')?.expires_at?.toISOString() ?? null,
  };
}
