import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { sealedColumns } from '../vault/sealed.js';
import { sourceSecrets, type SourceSecretPurpose } from './secrets.js';
import { SOURCE_SECRETS } from './store-sealed.js';

/** The inbound sources' sealed columns, for `vault rewrap` and the restore check. */
export const inboundSealedColumns = (db: Kysely<DB>) => [
  sealedColumns(db, SOURCE_SECRETS, (r) => sourceSecrets.binding(r.source_id ?? '', r.purpose as SourceSecretPurpose)),
];
