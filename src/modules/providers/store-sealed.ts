import { sql } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';

/** The instances' admin credentials, with the provider their binding names. */
export const ADMIN_SECRETS: SealedTable = {
  table: 'instance_admin_secrets', keys: ['instance_id'],
  from: sql`instance_admin_secrets s join provider_instances i on i.id = s.instance_id`, extra: sql`i.provider`,
};
