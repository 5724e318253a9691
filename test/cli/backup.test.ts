import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp } from '../../src/app.js';
import { systemActor } from '../../src/http/actor.js';
import { createEmptyPgDatabase, TEST_DB } from '../helpers/db.js';
import { cliTarget, runCli, withTarget } from '../helpers/cli.js';

// Backups as an operator makes them: `gatehouse backup` / `restore` on the embedded database, the
// documented pg_dump recipe on PostgreSQL; each restore is checked by the audit chain and by every
// sealed secret opening again, and the restored data reads back the same.
const SECRETS = { api_key: 'eb_live_backup_secret_0123456789', provider_workspace_id: '42' };

/** Writes a workspace with a credential, an endpoint (a whsec_ secret) and audit entries through the API. */
async function seed(env: Record<string, string>) {
  return withTarget(env, async (s) => {
    const app = await buildApp(s);
    const key = (await s.apiKeys.createPlatformAdminKey(systemActor(), 'seed')).key;
    const call = async (method: 'POST' | 'PUT', url: string, payload: unknown) => {
      const res = await app.inject({ method, url, payload: payload as object, headers: { authorization: `Bearer ${key}` } });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.body}`);
      return res.json();
    };
    try {
      const inst = await call('POST', '/v1/instances', { provider: 'emailbison', name: 'agency', base_url: 'https://bison.example.com/api' });
      const org = await call('POST', '/v1/organizations', { name: 'Backup Org' });
      const ws = await call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Backed up' });
      await call('PUT', `/v1/workspaces/${ws.id}/credentials/emailbison`, { instance: inst.id, ...SECRETS });
      await call('POST', `/v1/workspaces/${ws.id}/webhooks`, { url: 'https://receiver.example.com/hook', events: ['lead.created'] });
      // Signed with the data folder's audit key: the restore must bring that key back for it to verify.
      expect(await s.audit.checkpoints.create()).not.toBeNull();
      return { workspaceId: ws.id as string };
    } finally {
      await app.close();
    }
  });
}

const readBack = (env: Record<string, string>, workspaceId: string) =>
  withTarget(env, async (s) => (await s.vault.resolveWorkspaceCredential(workspaceId, 'emailbison')).secrets);

describe.runIf(TEST_DB === 'pglite')('gatehouse backup and restore (embedded database)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-backup-'));
  const archive = join(dir, 'nightly.tar.gz');
  let source: Awaited<ReturnType<typeof cliTarget>>;
  let workspaceId: string;

  beforeAll(async () => {
    source = await cliTarget();
    ({ workspaceId } = await seed(source.env));
  }, 120_000);
  afterAll(async () => {
    await source?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('backup writes the archive and the key file apart, both owner-only, and says to store them apart', async () => {
    const run = await runCli(['backup', '--out', archive], source.env);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(archive).mode & 0o077).toBe(0);
    expect(statSync(`${archive}.master.key`).mode & 0o077).toBe(0);
    expect(readFileSync(`${archive}.master.key`, 'utf8')).toBe(readFileSync(join(source.env.GATEHOUSE_DATA_DIR!, 'master.key'), 'utf8'));
    expect(run.stderr).toMatch(/apart/);
    expect(statSync(`${archive}.audit-signing.key`).mode & 0o077).toBe(0);
    expect(readFileSync(`${archive}.audit-signing.key`)).toEqual(readFileSync(join(source.env.GATEHOUSE_DATA_DIR!, 'audit-signing.key')));
    // The archive holds sealed secrets only.
    const tar = execFileSync('tar', ['-xzOf', archive], { maxBuffer: 1 << 30 });
    expect(tar.includes(Buffer.from(SECRETS.api_key))).toBe(false);
  }, 120_000);

  test('restore into an empty folder: audit chain ok (its signed checkpoint too), every secret opens, the credential reads back the same', async () => {
    const target = await cliTarget();
    try {
      const run = await runCli(['restore', archive, '--key', `${archive}.master.key`], target.env);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/audit chain: ok [1-9]\d* entries/);
      expect(run.stdout).toMatch(/audit signing key restored/);
      expect(run.stdout).toMatch(/secrets: (\d+) of \1 open/);
      expect(await readBack(target.env, workspaceId)).toEqual({ api_key: SECRETS.api_key });
    } finally {
      await target.drop();
    }
  }, 120_000);

  test('a wrong key file: restored, but every secret that does not open is named and the exit is 1', async () => {
    const target = await cliTarget();
    const wrongKey = join(dir, 'wrong.key');
    writeFileSync(wrongKey, `v1:${Buffer.alloc(32, 7).toString('base64')}\n`);
    try {
      const run = await runCli(['restore', archive, '--key', wrongKey], target.env);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/secrets: 0 of [1-9]\d* open/);
      expect(run.stdout).toMatch(/does not open: credential_secrets cred_\S+ api_key/);
    } finally {
      await target.drop();
    }
  }, 120_000);

  test('refusals: a folder that holds a database, no key at all, a database in use', async () => {
    const occupied = await runCli(['restore', archive, '--key', `${archive}.master.key`], source.env);
    expect(occupied.code).toBe(2);
    expect(occupied.stderr).toMatch(/already holds a database/);
    const target = await cliTarget();
    try {
      const keyless = await runCli(['restore', archive], target.env);
      expect(keyless.code).toBe(2);
      expect(keyless.stderr).toMatch(/no master key/);
      expect(existsSync(join(target.env.GATEHOUSE_DATA_DIR!, 'master.key')), 'no new key was made').toBe(false);
    } finally {
      await target.drop();
    }
    const overwrite = await runCli(['backup', '--out', archive], source.env);
    expect(overwrite.code).toBe(2);
    expect(overwrite.stderr).toMatch(/already exists/);
    const missing = await runCli(['restore', join(dir, 'nowhere.tar.gz'), '--key', `${archive}.master.key`], source.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no backup archive at/);
    writeFileSync(join(source.env.GATEHOUSE_DATA_DIR!, 'pgdata', 'postmaster.pid'), '-42\n');
    const open = await runCli(['backup', '--out', join(dir, 'second.tar.gz')], source.env);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/is open/);
    rmSync(join(source.env.GATEHOUSE_DATA_DIR!, 'pgdata', 'postmaster.pid'));
  }, 120_000);
});

describe.runIf(TEST_DB === 'postgres')('the pg_dump recipe (PostgreSQL)', () => {
  test('backup names the recipe; pg_dump, pg_restore into a new database, restore --check: chain ok, secrets open, data the same', async () => {
    const source = await cliTarget();
    const copy = await createEmptyPgDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgdump-'));
    const key = `v1:${Buffer.alloc(32, 3).toString('base64')}`;
    try {
      const env: Record<string, string> = { ...source.env, GATEHOUSE_MASTER_KEYS: key };
      const { workspaceId } = await seed(env);
      const refused = await runCli(['backup'], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('pg_dump --format=custom');
      // The recipe as printed.
      const dump = join(dir, 'gatehouse.dump');
      execFileSync('pg_dump', ['--format=custom', `--file=${dump}`, env.DATABASE_URL!]);
      execFileSync('pg_restore', ['--clean', '--if-exists', '--no-owner', `--dbname=${copy.url}`, dump]);
      const restored = { ...env, DATABASE_URL: copy.url };
      const check = await runCli(['restore', '--check'], restored);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toMatch(/audit chain: ok [1-9]\d* entries/);
      expect(check.stdout).toMatch(/secrets: (\d+) of \1 open/);
      expect(await readBack(restored, workspaceId)).toEqual({ api_key: SECRETS.api_key });
    } finally {
      await source.drop();
      await copy.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
