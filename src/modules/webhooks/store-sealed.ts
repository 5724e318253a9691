import { sql } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';

/** An endpoint's signing secrets and auth token, one row per purpose. */
export const ENDPOINT_SECRETS: SealedTable = { table: 'webhook_endpoint_secrets', keys: ['endpoint_id', 'purpose'], from: sql`webhook_endpoint_secrets s`, extra: sql`null as none` };

/** An endpoint's custom header values, sealed together. */
export const ENDPOINT_HEADERS: SealedTable = { table: 'webhook_endpoint_headers', keys: ['endpoint_id'], from: sql`webhook_endpoint_headers s`, extra: sql`null as none` };
