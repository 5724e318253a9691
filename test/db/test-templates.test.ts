import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { ADMIN_PG_URL, pruneStalePgliteImages, pruneStalePgTemplates, TEMPLATE_UNUSED_MS, TEST_DB } from '../helpers/db.js';

// Each migrations digest gets its own template database and PGlite image; those of a digest nobody
// has used for a day are removed when a new one is built. Other checkouts share the machine, each
// with its own digest in use: a template or image used recently stays, whatever its digest.
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('PGlite images: the one in use and those used within the day stay; older ones and abandoned build folders go', () => {
  const now = Date.now();
  const old = new Date(now - TEMPLATE_UNUSED_MS - 60_000);
  const files = { keep: 'pglite-0.0.0-aaaa.tar', recent: 'pglite-0.0.0-bbbb.tar', stale: 'pglite-0.0.0-cccc.tar', other: 'notes.txt' };
  for (const f of Object.values(files)) writeFileSync(join(dir, f), 'x');
  mkdirSync(join(dir, 'build-abc'));
  for (const f of [files.keep, files.stale, files.other, 'build-abc']) utimesSync(join(dir, f), old, old);
  expect(pruneStalePgliteImages(dir, files.keep, now).sort()).toEqual(['build-abc', files.stale]);
  expect([files.keep, files.recent, files.other].every((f) => existsSync(join(dir, f)))).toBe(true);
});

(TEST_DB === 'postgres' ? describe : describe.skip)('PostgreSQL templates', () => {
  const names = { stale: '', recent: '', unstamped: '', connected: '' };
  for (const k of Object.keys(names) as (keyof typeof names)[]) names[k] = `gatehouse_tpl_prunetest_${k}_${randomBytes(3).toString('hex')}`;
  let admin: pg.Client;
  afterAll(async () => {
    for (const n of Object.values(names)) {
      await admin.query(`ALTER DATABASE ${n} WITH IS_TEMPLATE false`).catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
    }
    await admin.end();
  });

  test('one unused for a day is dropped; one used recently, one not yet stamped (its clock starts) and one somebody is connected to stay', async () => {
    admin = new pg.Client({ connectionString: ADMIN_PG_URL });
    await admin.connect();
    const now = Date.now();
    const stamps = { stale: now - TEMPLATE_UNUSED_MS - 60_000, recent: now - 60_000, unstamped: null, connected: now - TEMPLATE_UNUSED_MS - 60_000 };
    for (const [k, n] of Object.entries(names)) {
      await admin.query(`CREATE DATABASE ${n} IS_TEMPLATE true`);
      const stamp = stamps[k as keyof typeof stamps];
      if (stamp !== null) await admin.query(`COMMENT ON DATABASE ${n} IS '${stamp}'`);
    }
    const url = new URL(ADMIN_PG_URL);
    url.pathname = `/${names.connected}`;
    const user = new pg.Client({ connectionString: url.toString() });
    await user.connect();
    try {
      const dropped = await pruneStalePgTemplates(admin, 'gatehouse_tpl_none', now);
      expect(dropped.filter((n) => n.includes('prunetest'))).toEqual([names.stale]);
    } finally {
      await user.end();
    }
    const { rows } = await admin.query<{ datname: string; datistemplate: boolean; used: string | null }>(
      `SELECT datname, datistemplate, shobj_description(oid, 'pg_database') AS used FROM pg_database WHERE datname = ANY($1)`, [Object.values(names)]);
    const left = Object.fromEntries(rows.map((r) => [r.datname, r]));
    expect(left[names.stale]).toBeUndefined();
    expect(left[names.recent]).toMatchObject({ datistemplate: true, used: String(stamps.recent) });
    expect(left[names.connected], 'still a template: the failed drop put the mark back').toMatchObject({ datistemplate: true });
    expect(Number(left[names.unstamped].used)).toBe(now);
  });
});
