import { sql, type Kysely } from 'kysely';
import type { DB, Executor } from './types.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing } from '../lib/envelope.js';

/**
 * A store for secrets that rotate with an overlap window, sealed through the vault envelope: an outbound
 * endpoint's signing secret and an inbound source's are the same thing over two tables. A table
 * holds one row per (owner, purpose); rotating moves `signing` to `signing_previous`, which stays
 * valid until its `expires_at`, so both are accepted (or sent) while the other side switches over.
 */
export interface RotatingSecretsSpec {
  table: keyof DB;
  /** The column naming the row's owner (endpoint_id, source_id). */
  ownerColumn: string;
  /** Starts the envelope binding (`endpoint`, `inbound`): a ciphertext copied to another owner fails to open. */
  bindingPrefix: string;
  /** Where changes are announced, so every process drops its opened copy. */
  channel: string;
}

/** Both tables' shape, under neutral names: the real table and owner column are given at run time. */
interface SecretRow {
  owner: string;
  purpose: string;
  master_version: string;
  wrapped_key: string;
  ciphertext: string;
  mask: string;
  expires_at: Date | null;
  updated_at: Date;
}

export interface OpenedRotatingSecrets<P extends string> {
  /** Current first, then the previous one while its overlap lasts. */
  signing: string[];
  /** Any other purpose's secret, opened (null when absent or expired). */
  other(purpose: Exclude<P, 'signing' | 'signing_previous'>): string | null;
  /** When the answer changes by itself (the previous secret expiring); Infinity when it does not. */
  validUntil: number;
}

export function rotatingSecrets<P extends string>(spec: RotatingSecretsSpec) {
  // The two tables differ only in their names: one typed view over either keeps the code single.
  const table = spec.table as 'secrets';
  const owner = spec.ownerColumn as 'owner';
  const q = (db: Executor) => db as unknown as Kysely<{ secrets: SecretRow }>;

  /** The previous secret shares the current one's binding: rotating renames the row, it does not reseal. */
  const binding = (ownerId: string, purpose: P) => `${spec.bindingPrefix}:${ownerId}|${purpose === 'signing_previous' ? 'signing' : purpose}`;

  async function remove(trx: Executor, ownerId: string, purpose: P) {
    await q(trx).deleteFrom(table).where(owner, '=', ownerId).where('purpose', '=', purpose).execute();
  }

  return {
    binding,
    remove,

    async put(trx: Executor, ring: MasterKeyRing, ownerId: string, purpose: P, value: string, expiresAt: Date | null = null) {
      const sealed = encryptSecret(ring, value, binding(ownerId, purpose));
      const changed = { ...sealed, mask: maskSecret(value), expires_at: expiresAt, updated_at: new Date() };
      await q(trx)
        .insertInto(table)
        .values({ [owner]: ownerId, purpose, ...changed } as SecretRow)
        .onConflict((oc) => oc.columns([owner, 'purpose']).doUpdateSet(changed))
        .execute();
    },

    /** Moves the current secret to `signing_previous`, valid until `until` (dropped at once when null). */
    async retire(trx: Executor, ownerId: string, until: Date | null) {
      await remove(trx, ownerId, 'signing_previous' as P);
      if (until === null) return remove(trx, ownerId, 'signing' as P);
      await q(trx)
        .updateTable(table)
        .set({ purpose: 'signing_previous', expires_at: until, updated_at: new Date() })
        .where(owner, '=', ownerId)
        .where('purpose', '=', 'signing')
        .execute();
    },

    /** The owner's secrets that are valid now, opened. */
    async open(db: Executor, ring: MasterKeyRing, ownerId: string, now = Date.now()): Promise<OpenedRotatingSecrets<P>> {
      const rows = await q(db).selectFrom(table).selectAll().where(owner, '=', ownerId).execute();
      const open = (purpose: P) => {
        const r = rows.find((x) => x.purpose === purpose);
        if (!r || (r.expires_at && r.expires_at.getTime() <= now)) return null;
        return decryptSecret(ring, r, binding(ownerId, purpose));
      };
      const previous = rows.find((x) => x.purpose === 'signing_previous')?.expires_at?.getTime();
      return {
        signing: [open('signing' as P), open('signing_previous' as P)].filter((s): s is string => s !== null),
        other: (purpose) => open(purpose),
        validUntil: previous && previous > now ? previous : Infinity,
      };
    },

    /** Masks and the overlap's end, for views: nothing here can be opened. */
    async masks(db: Executor, ownerId: string) {
      const rows = await q(db).selectFrom(table).select(['purpose', 'mask', 'expires_at']).where(owner, '=', ownerId).execute();
      return (purpose: P) => rows.find((r) => r.purpose === purpose);
    },

    /** Tells every process to drop its opened copy of this owner's secrets (sent at commit). */
    notifyChanged: (trx: Executor, ownerId: string) => sql`select pg_notify(${spec.channel}, ${ownerId})`.execute(trx),
  };
}
