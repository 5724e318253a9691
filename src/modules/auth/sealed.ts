import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { userBinding } from './service.js';
import { USER_SECRETS } from './store.js';

/** People's sealed authenticator secrets, for `vault rewrap` and the restore check. */
export const authSealedColumns = (db: Kysely<DB>) => sealedColumns(db, USER_SECRETS, (r) => userBinding(r.user_id ?? ''));
