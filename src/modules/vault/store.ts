import type { Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';

export type SealedWithMask = Sealed & { mask: string };

export async function getCredential(db: Executor, workspaceId: string, provider: string) {
  return db.selectFrom('credentials').selectAll().where('workspace_id', '=', workspaceId).where('provider', '=', provider).executeTakeFirst();
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

export async function putAdminSecret(trx: Executor, instanceId: string, sealed: SealedWithMask) {
  await trx
    .insertInto('instance_admin_secrets')
    .values({ instance_id: instanceId, ...sealed })
    .onConflict((oc) => oc.column('instance_id').doUpdateSet({ ...sealed, updated_at: new Date() }))
    .execute();
}

export async function getAdminSecret(db: Executor, instanceId: string) {
  return db.selectFrom('instance_admin_secrets').selectAll().where('instance_id', '=', instanceId).executeTakeFirst();
}

/** Work list for `vault rewrap`: sealed values whose data key is still wrapped by an older master key. */
export async function staleWorkspaceSecrets(db: Executor, active: string, limit: number, skip: readonly string[]) {
  let q = db
    .selectFrom('credential_secrets as s')
    .innerJoin('credentials as c', 'c.id', 's.credential_id')
    .select(['s.credential_id', 's.field', 's.master_version', 's.wrapped_key', 's.ciphertext', 'c.workspace_id', 'c.provider'])
    .where('s.master_version', '!=', active);
  // concat() takes "any", so the separator parameter needs a type or PostgreSQL refuses the query.
  if (skip.length) q = q.where((eb) => eb.not(eb(eb.fn('concat', ['s.credential_id', eb.cast(eb.val('|'), 'text'), 's.field']), 'in', skip)));
  return q.orderBy('s.credential_id').limit(limit).execute();
}

export async function staleAdminSecrets(db: Executor, active: string, limit: number, skip: readonly string[]) {
  let q = db
    .selectFrom('instance_admin_secrets as s')
    .innerJoin('provider_instances as i', 'i.id', 's.instance_id')
    .select(['s.instance_id', 's.master_version', 's.wrapped_key', 's.ciphertext', 'i.provider'])
    .where('s.master_version', '!=', active);
  if (skip.length) q = q.where('s.instance_id', 'not in', skip);
  return q.limit(limit).execute();
}

export async function staleEndpointSecrets(db: Executor, active: string, limit: number, skip: readonly string[]) {
  let q = db
    .selectFrom('webhook_endpoint_secrets as s')
    .select(['s.endpoint_id', 's.purpose', 's.master_version', 's.wrapped_key', 's.ciphertext'])
    .where('s.master_version', '!=', active);
  if (skip.length) q = q.where((eb) => eb.not(eb(eb.fn('concat', ['s.endpoint_id', eb.cast(eb.val('|'), 'text'), 's.purpose']), 'in', skip)));
  return q.limit(limit).execute();
}

export async function staleSourceSecrets(db: Executor, active: string, limit: number, skip: readonly string[]) {
  let q = db
    .selectFrom('inbound_source_secrets as s')
    .select(['s.source_id', 's.purpose', 's.master_version', 's.wrapped_key', 's.ciphertext'])
    .where('s.master_version', '!=', active);
  if (skip.length) q = q.where((eb) => eb.not(eb(eb.fn('concat', ['s.source_id', eb.cast(eb.val('|'), 'text'), 's.purpose']), 'in', skip)));
  return q.limit(limit).execute();
}

export async function staleUserSecrets(db: Executor, active: string, limit: number, skip: readonly string[]) {
  let q = db.selectFrom('user_secrets as s').select(['s.user_id', 's.purpose', 's.master_version', 's.wrapped_key', 's.ciphertext']).where('s.master_version', '!=', active);
  if (skip.length) q = q.where((eb) => eb.not(eb(eb.fn('concat', ['s.user_id', eb.cast(eb.val('|'), 'text'), 's.purpose']), 'in', skip)));
  return q.limit(limit).execute();
}

const SEALED_TABLES = ['credential_secrets', 'instance_admin_secrets', 'webhook_endpoint_secrets', 'inbound_source_secrets', 'user_secrets'] as const;

export async function countStale(db: Executor, active: string) {
  let n = 0;
  for (const table of SEALED_TABLES) {
    const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('master_version', '!=', active).executeTakeFirstOrThrow();
    n += Number(r.n);
  }
  return n;
}

/** Compare-and-set: only replaces the wrapped key if nobody changed the secret meanwhile. */
export async function replaceWrappedKey(db: Executor, table: (typeof SEALED_TABLES)[number], where: Record<string, string>, old: Sealed, next: Sealed) {
  let q = db
    .updateTable(table as 'credential_secrets')
    .set({ master_version: next.master_version, wrapped_key: next.wrapped_key })
    .where('wrapped_key', '=', old.wrapped_key);
  for (const [k, v] of Object.entries(where)) q = q.where(k as 'field', '=', v!);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
