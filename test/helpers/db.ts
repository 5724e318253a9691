import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';

/** Which database the suite runs on: `npm test` runs it twice, once per kind. */
export const TEST_DB: 'pglite' | 'postgres' = process.env.GATEHOUSE_TEST_DB === 'postgres' ? 'postgres' : 'pglite';
export const ADMIN_PG_URL = process.env.GATEHOUSE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  database: Database;
  /** Connection string of this file's own database (postgres only), for child processes. */
  url?: string;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: in-memory PGlite, or a database of its own on the
 * machine's PostgreSQL. If PostgreSQL is unreachable this throws: the suite fails, it never skips.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const log = pino({ level: 'silent' });
  if (TEST_DB === 'pglite') {
    const database = await connectDatabase({ kind: 'pglite' }, log);
    await migrate(database);
    return { database, drop: () => database.close() };
  }
  const empty = await createEmptyPgDatabase();
  const database = await connectDatabase({ kind: 'postgres', url: empty.url }, log);
  await migrate(database);
  return {
    database,
    url: empty.url,
    async drop() {
      await database.close();
      await empty.drop();
    },
  };
}

/** A new, empty (unmigrated) database on the machine's PostgreSQL, and how to drop it. */
export async function createEmptyPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gatehouse_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${ADMIN_PG_URL} is unreachable (${(err as Error).message}); the postgres run of the suite needs it`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
