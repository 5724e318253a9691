import type { ColumnType } from 'kysely';

/** A jsonb column: parsed on read, written as JSON text (pg would turn a JS array into a PostgreSQL array). */
export type JsonText<T = unknown> = ColumnType<T, string, string>;
