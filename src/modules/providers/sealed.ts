import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { adminBinding } from '../vault/service.js';
import { ADMIN_SECRETS } from './store-sealed.js';

/** The instances' sealed admin credentials, for `vault rewrap` and the restore check. */
export const adminSecretSealedColumns = (db: Kysely<DB>) => sealedColumns(db, ADMIN_SECRETS, (r) => adminBinding(r.instance_id ?? '', r.provider ?? ''));
