import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import pino from 'pino';
import { pgdataOf } from '../../src/db/backup.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';

/** Which database the suite runs on: `npm test` runs it twice, once per kind. */
export const TEST_DB: 'pglite' | 'postgres' = process.env.GATEHOUSE_TEST_DB === 'postgres' ? 'postgres' : 'pglite';
export const ADMIN_PG_URL = process.env.GATEHOUSE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  database: Database;
  /** Connection string of this file's own database (postgres only), for child processes. */
  url?: string;
  drop(): Promise<void>;
}

const silent = pino({ level: 'silent' });

/**
 * What a migrated database holds: the migrations and the runner that applies them. A changed
 * migration gives a new digest, so a new template; templates of other checkouts sharing the
 * machine's PostgreSQL are left alone.
 */
export function migrationsDigest(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(new URL('../../src/db/migrate.ts', import.meta.url)));
  for (const m of listMigrations()) hash.update(`\0${m.name}\0${m.script}`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * A fresh, migrated database for one test file: in-memory PGlite, or a database of its own on the
 * machine's PostgreSQL, each cloned from a migrated template made once per migrations digest.
 * If PostgreSQL is unreachable this throws: the suite fails, it never skips.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_DB === 'pglite') {
    const database = await connectDatabase({ kind: 'pglite', loadDataDir: await pgliteTemplate() }, silent);
    return { database, drop: () => database.close() };
  }
  const template = await (pgTemplate ??= ensurePgTemplate());
  const clone = await createPgDatabase(`TEMPLATE ${template}`);
  const database = await connectDatabase({ kind: 'postgres', url: clone.url }, silent);
  return {
    database,
    url: clone.url,
    async drop() {
      await database.close();
      await clone.drop();
    },
  };
}

/** A new, empty (unmigrated) database on the machine's PostgreSQL, and how to drop it. */
export function createEmptyPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  return createPgDatabase('');
}

async function adminClient(): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${ADMIN_PG_URL} is unreachable (${(err as Error).message}); the postgres run of the suite needs it`);
  }
  return admin;
}

const urlOf = (name: string) => {
  const url = new URL(ADMIN_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

async function createPgDatabase(options: string) {
  const name = `gatehouse_t_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${name} ${options}`);
  } finally {
    await admin.end();
  }
  return {
    url: urlOf(name),
    async drop() {
      const c = await adminClient();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

let pgTemplate: Promise<string> | undefined;

/**
 * The migrated template's name, made under an advisory lock so that parallel test processes wait
 * for one of them to build it. IS_TEMPLATE marks it complete: one left half-built by a killed
 * process is dropped and built again.
 */
async function ensurePgTemplate(): Promise<string> {
  const name = `gatehouse_tpl_${migrationsDigest()}`;
  const admin = await adminClient();
  try {
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    const { rows } = await admin.query<{ datistemplate: boolean }>('SELECT datistemplate FROM pg_database WHERE datname = $1', [name]);
    if (rows[0]?.datistemplate) return name;
    if (rows.length) await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    const database = await connectDatabase({ kind: 'postgres', url: urlOf(name) }, silent);
    try {
      await migrate(database);
    } finally {
      // Closed before cloning: PostgreSQL refuses to copy a database anyone is connected to.
      await database.close();
    }
    await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true`);
    return name;
  } finally {
    await admin.end(); // ends the session, which releases the advisory lock
  }
}

let pgliteImage: Promise<Blob> | undefined;

/**
 * A migrated PGlite data directory as a tar, built once per migrations digest and PGlite version
 * and kept in the system's temporary folder. Loading it skips initdb and the migrations, which
 * take most of an in-memory database's start.
 */
function pgliteTemplate(): Promise<Blob> {
  return (pgliteImage ??= (async () => {
    const version = JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')).version as string;
    const dir = join(tmpdir(), 'gatehouse-test');
    const file = join(dir, `pglite-${version}-${migrationsDigest()}.tar`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const dataDir = mkdtempSync(join(dir, 'build-'));
      try {
        const database = await connectDatabase({ kind: 'pglite', dataDir }, silent);
        await migrate(database);
        await database.close();
        const client = await PGlite.create(pgdataOf(dataDir));
        const image = await client.dumpDataDir('none');
        await client.close();
        // Written aside and renamed: a process building the same image at once never reads half of it.
        writeFileSync(join(dataDir, 'image.tar'), Buffer.from(await image.arrayBuffer()));
        renameSync(join(dataDir, 'image.tar'), file);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    return new Blob([readFileSync(file)]);
  })());
}
