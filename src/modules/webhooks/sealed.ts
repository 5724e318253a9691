import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { headersBinding } from './headers.js';
import { endpointSecrets, type SecretPurpose } from './secrets.js';
import { ENDPOINT_HEADERS, ENDPOINT_SECRETS } from './store-sealed.js';

/** The outbound endpoints' sealed columns, for `vault rewrap` and the restore check. */
export const webhookSealedColumns = (db: Kysely<DB>) => [
  sealedColumns(db, ENDPOINT_SECRETS, (r) => endpointSecrets.binding(r.endpoint_id ?? '', r.purpose as SecretPurpose)),
  sealedColumns(db, ENDPOINT_HEADERS, (r) => headersBinding(r.endpoint_id ?? '')),
];
