import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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
    if (rows[0]?.datistemplate) {
      await markUsed(admin, name);
      return name;
    }
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
    await markUsed(admin, name);
    await pruneStalePgTemplates(admin, name);
    return name;
  } finally {
    await admin.end(); // ends the session, which releases the advisory locks
  }
}

/**
 * Templates (and PGlite images) of a digest nobody has used for this long are removed when a new
 * one is built. Not every other digest: the checkouts sharing the machine's PostgreSQL and temporary
 * folder each use their own, at the same time.
 */
export const TEMPLATE_UNUSED_MS = 24 * 3600_000;
const TEMPLATE_PREFIX = 'gatehouse_tpl_';

/** Stamps the template's last use (as its comment, in epoch ms): its age for pruning. */
const markUsed = (admin: pg.Client, name: string) => admin.query(`COMMENT ON DATABASE ${name} IS '${Date.now()}'`);

/**
 * Drops the other templates unused for TEMPLATE_UNUSED_MS, each under its own advisory lock (the one
 * its builder and users take), and never one anybody is connected to (no FORCE: a clone under way
 * makes the drop fail, and it is left). One without a stamp gets one now: its clock starts.
 */
export async function pruneStalePgTemplates(admin: pg.Client, keep: string, now = Date.now()): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string; used: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS used FROM pg_database WHERE datname LIKE $1 AND datname <> $2`,
    [`${TEMPLATE_PREFIX.replaceAll('_', '\\_')}%`, keep],
  );
  const dropped: string[] = [];
  for (const { datname, used } of rows) {
    if (!/^[a-z0-9_]+$/.test(datname)) continue;
    if (!/^\d+$/.test(used ?? '')) {
      await admin.query(`COMMENT ON DATABASE ${datname} IS '${now}'`);
      continue;
    }
    if (now - Number(used) < TEMPLATE_UNUSED_MS) continue;
    const { rows: [lock] } = await admin.query<{ got: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [datname]);
    if (!lock.got) continue;
    try {
      await admin.query(`ALTER DATABASE ${datname} WITH IS_TEMPLATE false`);
      await admin.query(`DROP DATABASE ${datname}`);
      dropped.push(datname);
    } catch {
      // Somebody is connected to it after all: it is in use, so not stale.
      await admin.query(`ALTER DATABASE ${datname} WITH IS_TEMPLATE true`).catch(() => undefined);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [datname]);
    }
  }
  return dropped;
}

/**
 * Removes the PGlite images (and build folders a killed process left) in `dir` other than `keep`
 * not used for TEMPLATE_UNUSED_MS: an image's modification time is its last use (see pgliteTemplate).
 */
export function pruneStalePgliteImages(dir: string, keep: string, now = Date.now()): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === keep || !/^(pglite-.+\.tar|build-.+)$/.test(entry)) continue;
    const path = join(dir, entry);
    try {
      if (now - statSync(path).mtimeMs < TEMPLATE_UNUSED_MS) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(entry);
    } catch {
      // Removed meanwhile by another process pruning.
    }
  }
  return removed;
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
      pruneStalePgliteImages(dir, basename(file));
    } else {
      // Its last use, for pruning (reading it does not count: atime is often not kept).
      const at = new Date();
      utimesSync(file, at, at);
    }
    return new Blob([readFileSync(file)]);
  })());
}
