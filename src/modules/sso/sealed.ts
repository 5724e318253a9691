import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { SSO_SECRETS } from './store.js';
import { ssoBinding } from './types.js';

/** Organizations' sealed OpenID Connect client secrets, for `vault rewrap` and the restore check. */
export const ssoSealedColumns = (db: Kysely<DB>) => sealedColumns(db, SSO_SECRETS, (r) => ssoBinding(r.organization_id ?? ''));
