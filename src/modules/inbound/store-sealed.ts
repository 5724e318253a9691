import { sql } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';

/** A source's signing secrets and verify token, one row per purpose. */
export const SOURCE_SECRETS: SealedTable = { table: 'inbound_source_secrets', keys: ['source_id', 'purpose'], from: sql`inbound_source_secrets s`, extra: sql`null as none` };
