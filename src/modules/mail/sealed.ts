import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { mailBodyBinding } from './service.js';
import { MAIL_BODIES } from './store.js';

/** Bodies of emails waiting to be sent, for `vault rewrap` and the restore check. */
export const mailSealedColumns = (db: Kysely<DB>) => sealedColumns(db, MAIL_BODIES, (r) => mailBodyBinding(r.message_id ?? ''));
