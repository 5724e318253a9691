import { sql } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';
import type { Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';

export type SealedWithMask = Sealed & { mask: string };

export async function getCredential(db: Executor, workspaceId: string, provider: string) {
  return db.selectFrom('credentials').selectAll().where('workspace_id', '=', workspaceId).where('provider', '=', provider).executeTakeFirst();
}

export async function getCredentialById(db: Executor, workspaceId: string, credentialId: string) {
  return db.selectFrom('credentials').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', credentialId).executeTakeFirstOrThrow();
}

/** Every process drops its opened copy of the credential; delivered at commit. */
export async function notifyCredentialChanged(trx: Executor, channel: string, payload: string) {
  await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
}

export async function listCredentials(db: Executor, workspaceId: string) {
  return db.selectFrom('credentials').selectAll().where('workspace_id', '=', workspaceId).orderBy('provider').execute();
}

export async function upsertCredential(
  trx: Executor,
  workspaceId: string,
  row: { id: string; provider: string; instance_id: string | null; name: string | null; fields: Record<string, string>; created_by: string },
) {
  return trx
    .insertInto('credentials')
    .values({ ...row, workspace_id: workspaceId, fields: JSON.stringify(row.fields) })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'provider']).doUpdateSet({
        instance_id: row.instance_id,
        name: row.name,
        fields: JSON.stringify(row.fields),
        updated_at: new Date(),
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteCredential(trx: Executor, workspaceId: string, provider: string) {
  return trx.deleteFrom('credentials').where('workspace_id', '=', workspaceId).where('provider', '=', provider).returningAll().executeTakeFirst();
}

/** Secrets of one credential; the caller proved the credential is the workspace's. */
export async function secretsOf(db: Executor, workspaceId: string, credentialId: string) {
  return db
    .selectFrom('credential_secrets as s')
    .innerJoin('credentials as c', 'c.id', 's.credential_id')
    .select(['s.field', 's.master_version', 's.wrapped_key', 's.ciphertext', 's.mask'])
    .where('c.workspace_id', '=', workspaceId)
    .where('s.credential_id', '=', credentialId)
    .execute();
}

export async function putSecret(trx: Executor, credentialId: string, field: string, sealed: SealedWithMask) {
  await trx
    .insertInto('credential_secrets')
    .values({ credential_id: credentialId, field, ...sealed })
    .onConflict((oc) => oc.columns(['credential_id', 'field']).doUpdateSet({ ...sealed, updated_at: new Date() }))
    .execute();
}

export async function removeSecret(trx: Executor, credentialId: string, field: string) {
  await trx.deleteFrom('credential_secrets').where('credential_id', '=', credentialId).where('field', '=', field).execute();
}

/** The instances the credentials of these workspaces use. */
export async function instancesUsedBy(db: Executor, workspaceIds: readonly string[]) {
  if (workspaceIds.length === 0) return [];
  const rows = await db.selectFrom('credentials').select('instance_id').distinct().where('workspace_id', 'in', workspaceIds).where('instance_id', 'is not', null).execute();
  return rows.flatMap((r) => (r.instance_id ? [r.instance_id] : []));
}

/** Which workspace holds each credential (of one provider, or of all), without fields or secrets. */
export async function credentialHolders(db: Executor, provider?: string) {
  let q = db.selectFrom('credentials').select(['workspace_id', 'provider']);
  if (provider) q = q.where('provider', '=', provider);
  return q.orderBy('workspace_id').orderBy('provider').execute();
}

/** Another workspace than `workspaceId` whose `provider` credential on `instanceId` (or none) has `field` = `value`. */
export async function otherHolderOfField(db: Executor, workspaceId: string, provider: string, instanceId: string | null, field: string, value: string) {
  return db
    .selectFrom('credentials')
    .select('workspace_id')
    .where('provider', '=', provider)
    .where('instance_id', instanceId === null ? 'is' : '=', instanceId)
    .where('workspace_id', '!=', workspaceId)
    .where(sql<string>`fields->>${field}`, '=', value)
    .executeTakeFirst();
}

/** Serialises writers of one provider identity until the transaction ends (two workspaces racing for one account). */
export async function lockIdentity(trx: Executor, key: string) {
  await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
}

/** The credentials' secrets, with what their binding is built from. */
export const CREDENTIAL_SECRETS: SealedTable = {
  table: 'credential_secrets', keys: ['credential_id', 'field'],
  from: sql`credential_secrets s join credentials c on c.id = s.credential_id`, extra: sql`c.workspace_id, c.provider`,
};
