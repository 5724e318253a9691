import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { ApiKeys, AuditCheckpoints, AuditLog, DB, WebhookDeliveries } from './schema.generated.js';

// The tables' types are generated from the migrations (schema.generated.ts, `npm run gen:db-types`);
// this file keeps what the code names on top of them.
export type { DB } from './schema.generated.js';

/** A query runner: the database itself or an open transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;

export type ApiKeyRow = Selectable<ApiKeys>;
export type NewApiKey = Insertable<ApiKeys>;
export type AuditRow = Selectable<AuditLog>;
export type NewAuditRow = Insertable<AuditLog>;
export type AuditCheckpointRow = Selectable<AuditCheckpoints>;
export type DeliveryStatus = Selectable<WebhookDeliveries>['status'];
