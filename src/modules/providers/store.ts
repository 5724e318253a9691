import type { Insertable } from 'kysely';
import { pageAfter } from '../../db/paging.js';
import type { DB, Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';
import type { PageRequest } from '../../lib/paging.js';

/** Instances belong to the platform, not to a workspace: no function here takes a workspace id. */

export async function findInstance(db: Executor, idOrName: string) {
  return db
    .selectFrom('provider_instances')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

export async function instanceNamed(trx: Executor, name: string) {
  return trx.selectFrom('provider_instances').select('id').where('name', '=', name).executeTakeFirst();
}

export async function insertInstance(trx: Executor, row: Insertable<DB['provider_instances']>) {
  return trx.insertInto('provider_instances').values(row).returningAll().executeTakeFirstOrThrow();
}

/** One page of instances with their admin credential's mask (null: none set); `onlyIds` narrows it. */
export async function listInstances(db: Executor, page: PageRequest, onlyIds?: readonly string[]) {
  let q = pageAfter(
    db.selectFrom('provider_instances').leftJoin('instance_admin_secrets as s', 's.instance_id', 'provider_instances.id').selectAll('provider_instances').select('s.mask'),
    'provider_instances',
    page,
  );
  if (onlyIds !== undefined) {
    if (onlyIds.length === 0) return [];
    q = q.where('provider_instances.id', 'in', onlyIds);
  }
  return q.execute();
}

export async function putAdminSecret(trx: Executor, instanceId: string, sealed: Sealed & { mask: string }) {
  await trx
    .insertInto('instance_admin_secrets')
    .values({ instance_id: instanceId, ...sealed })
    .onConflict((oc) => oc.column('instance_id').doUpdateSet({ ...sealed, updated_at: new Date() }))
    .execute();
}

export async function getAdminSecret(db: Executor, instanceId: string) {
  return db.selectFrom('instance_admin_secrets').selectAll().where('instance_id', '=', instanceId).executeTakeFirst();
}
