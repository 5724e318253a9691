import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_TIMEOUT_MS, migrate } from '../../src/db/migrate.js';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';
import { sleep } from '../helpers/processes.js';

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase();
  dir = `${await mkdtemp(join(tmpdir(), 'gatehouse-migrations-'))}/`; // listMigrations joins by concatenation
});
afterAll(async () => {
  await t.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A client of the test database outside the app's pool: the "live request". */
async function liveClient() {
  const c = new pg.Client({ connectionString: t.url });
  await c.connect();
  return c;
}

/** Tables made outside the migration, and a migration file `name` with `script` beside the applied ones. */
async function prepare(tables: string[], name: string, script: string) {
  const setup = await liveClient();
  await setup.query(tables.map((table) => `create table ${table} (id int)`).join('; '));
  await setup.end();
  await writeFile(join(dir, `${name}.sql`), script);
}

describe.runIf(TEST_DB === 'postgres')('migrations on a database in use (PostgreSQL)', () => {
  it('a migration and a request waiting on each other: the migration gives way and retries, the request never fails on a deadlock', async () => {
    // Takes lock_b, then needs lock_a: the opposite order to the request below.
    await prepare(['lock_a', 'lock_b'], '901_lock_order', 'CREATE INDEX lock_b_idx ON lock_b (id);\nSELECT pg_sleep(0.3);\nCREATE INDEX lock_a_idx ON lock_a (id);\n');

    const request = await liveClient();
    await request.query('begin');
    await request.query('insert into lock_a values (1)');
    const waits: number[] = [];
    const migrating = migrate(t.database, () => {}, { dir, onLockWait: (_m, attempt) => waits.push(attempt) });
    await sleep(150); // the migration now holds lock_b and is about to wait for lock_a
    const started = Date.now();
    await request.query('insert into lock_b values (1)'); // would close a deadlock cycle
    const waitedMs = Date.now() - started;
    await request.query('commit');
    await request.end();

    const applied = await migrating;
    expect(applied.map((m) => m.name)).toEqual(['901_lock_order']);
    expect(waits.length, 'the migration gave way at least once').toBeGreaterThan(0);
    // The request waited for the migration to give way, well under the deadlock check's 1 s.
    expect(waitedMs).toBeLessThan(1000);
    expect(waitedMs).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 350);
  });

  it('waits out a transaction holding its table, retrying with pauses, then applies', async () => {
    await prepare(['lock_c'], '902_alter_c', 'ALTER TABLE lock_c ADD COLUMN note text;\n');
    const holder = await liveClient();
    await holder.query('begin');
    await holder.query('select * from lock_c'); // an open transaction's share lock blocks ALTER TABLE
    const waits: number[] = [];
    const released = sleep(1500).then(async () => {
      await holder.query('commit');
      await holder.end();
    });
    const applied = await migrate(t.database, () => {}, { dir, onLockWait: (_m, attempt) => waits.push(attempt) });
    await released;
    expect(applied.map((m) => m.name)).toEqual(['902_alter_c']);
    expect(waits.length).toBeGreaterThan(1);
  });

  it('gives up with a clear message when the table stays held, having changed nothing', async () => {
    await prepare(['lock_d'], '903_alter_d', 'ALTER TABLE lock_d ADD COLUMN note text;\n');
    const holder = await liveClient();
    try {
      await holder.query('begin');
      await holder.query('select * from lock_d');
      await expect(migrate(t.database, () => {}, { dir, retryForMs: 1000 })).rejects.toThrow(/903_alter_d could not take its locks for \d+ s: long transactions hold its tables/);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
    const check = await liveClient();
    const cols = await check.query(`select column_name from information_schema.columns where table_name = 'lock_d'`);
    const recorded = await check.query(`select 1 from gatehouse_migrations where id = 903`);
    await check.end();
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id']);
    expect(recorded.rows).toHaveLength(0);
  });
});
