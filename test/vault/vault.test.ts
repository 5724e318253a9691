import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/connect.js';
import type { DB } from '../../src/db/types.js';
import { systemActor } from '../../src/http/actor.js';
import { decryptSecret, encryptSecret, maskSecret, parseMasterKeys } from '../../src/lib/envelope.js';
import { createLogger } from '../../src/lib/logger.js';
import type { ProviderId } from '../../src/modules/providers/types.js';
import { loadMasterKeys, MASTER_KEY_FILE } from '../../src/modules/vault/master-keys.js';
import { rewrapDataKeys } from '../../src/modules/vault/rewrap.js';
import { sealedColumnsOf } from '../../src/sealed.js';
import { adminBinding, workspaceBinding } from '../../src/modules/vault/service.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { CLI, cliTarget, describeCli, runCli, withTarget } from '../helpers/cli.js';

// The vault through the API and the database, on whichever database this run uses (TEST_DB).
const b64key = () => randomBytes(32).toString('base64');
const rand = (label: string) => `${label}${randomBytes(12).toString('hex')}`;
const K1 = b64key();
const K2 = b64key();

const silent = createLogger('silent');
const tmpDirs: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// A wire-level stand-in for the providers: answers 200 and records every request it receives.
interface Seen {
  method: string;
  url: string;
  authorization: string;
}
interface Fake {
  base: string;
  seen: Seen[];
  /** Every credential-bearing string the fake was sent: the Authorization header and the query. */
  sentText(): string;
  close(): Promise<void>;
}

async function startFake(): Promise<Fake> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: String(req.headers.authorization ?? '') });
    req.resume();
    req.on('end', () => {
      const url = req.url!;
      let body: unknown = { ok: true };
      if (url.endsWith('/api-tokens')) body = { data: { name: 'gatehouse', plain_text_token: `77|${randomBytes(16).toString('hex')}` } };
      else if (url.includes('/users')) body = { data: { email: 'owner@example.com' } };
      else if (url.includes('/Accounts/')) body = { friendly_name: 'Fake', status: 'active' };
      else if (url.includes('get-balance')) body = { value: 10.5 };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    sentText: () => seen.map((s) => `${s.authorization} ${decodeURIComponent(s.url)}`).join('\n'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** Every row of every table of the schema, as JSON text. */
async function dumpDatabase(db: Kysely<DB>): Promise<string> {
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
  expect(tables.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['credentials', 'credential_secrets', 'instance_admin_secrets', 'audit_log', 'upstream_calls']));
  const out: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<{ j: string }>`select row_to_json(t)::text as j from ${sql.table(name)} t`.execute(db);
    out.push(`-- ${name}`, ...rows.rows.map((r) => r.j));
  }
  return out.join('\n');
}

/** The forms a leaked secret could take in text: whole, its unmasked middle, base64, URL-encoded. */
function leakForms(secret: string): string[] {
  return [secret, secret.slice(4, -4), Buffer.from(secret).toString('base64'), encodeURIComponent(secret)];
}
function expectNoSecret(text: string, secrets: Record<string, string>, where: string) {
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of leakForms(secret)) {
      // The message names the secret's label, never its value.
      expect(text.includes(form), `${where} holds ${label}`).toBe(false);
    }
  }
}

type Row = { master_version: string; wrapped_key: string; ciphertext: string };
async function secretRow(db: Kysely<DB>, credentialId: string, field: string): Promise<Row> {
  return db
    .selectFrom('credential_secrets')
    .select(['master_version', 'wrapped_key', 'ciphertext'])
    .where('credential_id', '=', credentialId)
    .where('field', '=', field)
    .executeTakeFirstOrThrow();
}

/** Flips one bit in the middle of a base64 column of one credential_secrets row, in SQL. */
async function flipByte(db: Kysely<DB>, credentialId: string, field: string, column: 'ciphertext' | 'wrapped_key') {
  const row = await secretRow(db, credentialId, field);
  const buf = Buffer.from(row[column], 'base64');
  buf[Math.floor(buf.length / 2)] ^= 0x01;
  const r = await sql`update credential_secrets set ${sql.ref(column)} = ${buf.toString('base64')} where credential_id = ${credentialId} and field = ${field}`.execute(db);
  expect(Number(r.numAffectedRows)).toBe(1);
}

/** Another services instance (another process, in effect) on the same database with these master keys. */
async function servicesOn(database: Database, keys: string): Promise<Services> {
  const config = loadConfig({ GATEHOUSE_MASTER_KEYS: keys, GATEHOUSE_LOG_LEVEL: 'silent', GATEHOUSE_CREDENTIAL_CACHE_MS: '0', GATEHOUSE_DATA_DIR: tmp('gatehouse-vault-') });
  return createServices(config, database, silent);
}

// ---------------------------------------------------------------------------------------------
let t: TestApp;
let fake: Fake;

beforeAll(async () => {
  fake = await startFake();
  // No credential cache: every call decrypts what is in the row now, so SQL edits show at once.
  t = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${K1}`, GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function putTwilio(key: string, wsId: string, sid: string, token: string) {
  const res = await t.call(key, 'PUT', `/v1/workspaces/${wsId}/credentials/twilio`, { account_sid: sid, auth_token: token, base_url: `${fake.base}/twilio` });
  expect(res.status, res.raw).toBe(200);
  return res.body as { id: string; secrets: Record<string, { set: boolean; mask: string }> };
}

let instanceSeq = 0;
async function createInstance() {
  const res = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: `agency-${++instanceSeq}-${rand('')}`, base_url: `${fake.base}/eb/api` });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; name: string };
}

describe('secrets are stored only sealed', () => {
  test('no plaintext secret in any table, log line, audit entry or API response', async () => {
    const a = await seedWorkspace(t);
    const b = await seedWorkspace(t);
    const sidA = `AC${randomBytes(16).toString('hex')}`;
    const secrets = {
      twilio_token: rand('twtok_'),
      vonage_secret: rand('vosec_'),
      vonage_signature: rand('vosig_'),
      eb_token: `12|${rand('ebtok')}`,
      eb_admin: `1|${rand('ebadmin')}`,
    };
    const responses: string[] = [];
    const call = async (key: string, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) => {
      const res = await t.call(key, method, url, body);
      responses.push(`${method} ${url} ${res.status} ${res.raw}`);
      return res;
    };

    // Written through the API: a workspace key for A's Twilio and Email Bison, the admin for B's Vonage.
    const tw = await call(a.key, 'PUT', `/v1/workspaces/${a.workspace.id}/credentials/twilio`, { account_sid: sidA, auth_token: secrets.twilio_token, base_url: `${fake.base}/twilio` });
    expect(tw.status, tw.raw).toBe(200);
    expect(tw.body.secrets).toEqual({ auth_token: { set: true, mask: maskSecret(secrets.twilio_token) } });
    expect(tw.body.secrets.auth_token.mask).toMatch(/^twto\*\*\*[0-9a-f]{4}$/);
    const vo = await call(t.adminKey, 'PUT', `/v1/workspaces/${b.workspace.id}/credentials/vonage`, {
      api_key: 'vonkey1', api_secret: secrets.vonage_secret, signature_secret: secrets.vonage_signature, base_url: `${fake.base}/vonage`,
    });
    expect(vo.status, vo.raw).toBe(200);
    const instance = await createInstance();
    const adm = await call(t.adminKey, 'PUT', `/v1/instances/${instance.id}/admin-credential`, { api_key: secrets.eb_admin });
    expect(adm.status, adm.raw).toBe(200);
    expect(adm.body.admin_credential).toEqual({ set: true, mask: maskSecret(secrets.eb_admin) });
    const eb = await call(a.key, 'PUT', `/v1/workspaces/${a.workspace.id}/credentials/emailbison`, { instance: instance.name, api_key: secrets.eb_token, provider_workspace_id: '4' });
    expect(eb.status, eb.raw).toBe(200);
    // An update with the secret left blank keeps the sealed value.
    const renamed = await call(a.key, 'PUT', `/v1/workspaces/${a.workspace.id}/credentials/twilio`, { name: 'renamed', auth_token: '' });
    expect(renamed.status, renamed.raw).toBe(200);
    expect(renamed.body.secrets.auth_token.mask).toBe(maskSecret(secrets.twilio_token));

    // Used, so decryption, signing, the call log and health all ran with the real values.
    for (const [key, ws, provider] of [[a.key, a.workspace.id, 'twilio'], [a.key, a.workspace.id, 'emailbison'], [t.adminKey, b.workspace.id, 'vonage']] as const) {
      const test = await call(key, 'POST', `/v1/workspaces/${ws}/credentials/${provider}/test`);
      expect(test.status, test.raw).toBe(200);
      expect(test.body.ok, test.raw).toBe(true);
      const up = await call(key, 'POST', `/v1/workspaces/${ws}/upstream/${provider}`, { method: 'GET', path: '/probe', query: { page: 1 } });
      expect(up.status, up.raw).toBe(200);
    }
    // The fake did receive them: the searches below look for strings that really were in play.
    const sent = fake.sentText();
    expect(sent).toContain(basic(sidA, secrets.twilio_token));
    expect(sent).toContain(`Bearer ${secrets.eb_token}`);
    expect(sent).toContain(`api_secret=${secrets.vonage_secret}`);

    for (const ws of [a.workspace.id, b.workspace.id]) {
      await call(t.adminKey, 'GET', `/v1/workspaces/${ws}/credentials`);
      await call(t.adminKey, 'GET', `/v1/workspaces/${ws}/api-logs`);
      await call(t.adminKey, 'GET', `/v1/workspaces/${ws}/api-logs?format=csv`);
      await call(t.adminKey, 'GET', `/v1/workspaces/${ws}/health`);
    }
    const listed = await call(t.adminKey, 'GET', '/v1/instances');
    expect(listed.body.data.find((i: { id: string }) => i.id === instance.id).admin_credential).toEqual({ set: true, mask: maskSecret(secrets.eb_admin) });
    const audit = await call(t.adminKey, 'GET', '/v1/audit?limit=1000');
    const auditCsv = await call(t.adminKey, 'GET', '/v1/audit?format=csv');
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['credential.created', 'credential.updated', 'instance.admin_credential_set']));
    expect(auditCsv.raw).toContain('credential.updated');

    // The rows are there, sealed under v1, each with its own mask.
    const rows = await t.db.database.db
      .selectFrom('credential_secrets as s')
      .innerJoin('credentials as c', 'c.id', 's.credential_id')
      .select(['c.workspace_id', 'c.provider', 's.field', 's.master_version', 's.mask'])
      .where('c.workspace_id', 'in', [a.workspace.id, b.workspace.id])
      .orderBy('s.field')
      .execute();
    expect(rows.map((r) => `${r.provider}.${r.field}@${r.master_version}`).sort()).toEqual(
      ['emailbison.api_key@v1', 'twilio.auth_token@v1', 'vonage.api_secret@v1', 'vonage.signature_secret@v1'],
    );

    const dump = await dumpDatabase(t.db.database.db);
    expect(dump).toContain(a.workspace.id); // the dump is real
    expect(dump).toContain(sidA); // non-secret fields are stored as given
    expectNoSecret(dump, secrets, 'the database');
    expectNoSecret(dump, { twilio_basic: Buffer.from(`${sidA}:${secrets.twilio_token}`).toString('base64') }, 'the database');
    expectNoSecret(t.logs.join('\n'), secrets, 'the logs');
    expectNoSecret(t.logs.join('\n'), { twilio_basic: Buffer.from(`${sidA}:${secrets.twilio_token}`).toString('base64') }, 'the logs');
    expect(t.logs.length).toBeGreaterThan(10);
    expectNoSecret(responses.join('\n'), secrets, 'the API responses');
  });
});

describe('a ciphertext is bound to its row', () => {
  test("workspace A's sealed secret copied onto B's row: B's test and upstream calls are 422 credential_invalid and send nothing", async () => {
    const a = await seedWorkspace(t);
    const b = await seedWorkspace(t);
    const sidA = `AC${rand('')}`;
    const sidB = `AC${rand('')}`;
    const tokA = rand('tokA_');
    const tokB = rand('tokB_');
    const credA = await putTwilio(a.key, a.workspace.id, sidA, tokA);
    const credB = await putTwilio(b.key, b.workspace.id, sidB, tokB);

    // Before: each works, with its own token.
    for (const [key, ws] of [[a.key, a.workspace.id], [b.key, b.workspace.id]]) {
      const ok = await t.call(key, 'POST', `/v1/workspaces/${ws}/credentials/twilio/test`);
      expect(ok.body.ok, ok.raw).toBe(true);
    }
    expect(fake.seen.some((s) => s.authorization === basic(sidB, tokB))).toBe(true);

    // A's sealed values, copied onto B's row for the same provider and field.
    const copied = await sql`
      update credential_secrets b set master_version = a.master_version, wrapped_key = a.wrapped_key, ciphertext = a.ciphertext
      from credential_secrets a
      where a.credential_id = ${credA.id} and a.field = 'auth_token' and b.credential_id = ${credB.id} and b.field = 'auth_token'`.execute(t.db.database.db);
    expect(Number(copied.numAffectedRows)).toBe(1);
    expect(await secretRow(t.db.database.db, credB.id, 'auth_token')).toEqual(await secretRow(t.db.database.db, credA.id, 'auth_token'));

    const before = fake.seen.length;
    const test = await t.call(b.key, 'POST', `/v1/workspaces/${b.workspace.id}/credentials/twilio/test`);
    expect(test.status, test.raw).toBe(422);
    expect(test.body.error.code).toBe('credential_invalid');
    expect(test.body.error.message).toContain(b.workspace.id);
    const up = await t.call(b.key, 'POST', `/v1/workspaces/${b.workspace.id}/upstream/twilio`, { method: 'GET', path: '/2010-04-01/Accounts.json' });
    expect(up.status, up.raw).toBe(422);
    expect(up.body.error.code).toBe('credential_invalid');
    await expect(t.services.vault.resolveWorkspaceCredential(b.workspace.id, 'twilio')).rejects.toMatchObject({ code: 'credential_invalid' });
    // The monitor job meets the same refusal and sends nothing for B either.
    await t.services.upstream.testAll();
    const afterCopy = fake.seen.slice(before);
    expect(afterCopy.filter((s) => s.url.includes(sidB))).toEqual([]);
    expect(fake.seen.filter((s) => s.authorization === basic(sidB, tokA))).toEqual([]);
    expect(fake.sentText()).not.toContain(basic(sidB, tokA));
    expectNoSecret(`${test.raw}\n${up.raw}`, { tokA, tokB }, 'the 422 answers');

    // A's own row is untouched and still serves A.
    const stillA = await t.call(a.key, 'POST', `/v1/workspaces/${a.workspace.id}/credentials/twilio/test`);
    expect(stillA.body.ok, stillA.raw).toBe(true);
    // B recovers by storing its secret again.
    await putTwilio(b.key, b.workspace.id, sidB, tokB);
    const recovered = await t.call(b.key, 'POST', `/v1/workspaces/${b.workspace.id}/credentials/twilio/test`);
    expect(recovered.body.ok, recovered.raw).toBe(true);
  });

  test('a sealed secret moved to another field or another provider of the same workspace does not decrypt', async () => {
    const w = await seedWorkspace(t);
    const vo = await t.call(w.key, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/vonage`, {
      api_key: 'k1', api_secret: rand('vs_'), signature_secret: rand('sig_'), base_url: `${fake.base}/vonage`,
    });
    expect(vo.status, vo.raw).toBe(200);
    const tw = await putTwilio(w.key, w.workspace.id, `AC${rand('')}`, rand('tw_'));
    const db = t.db.database.db;
    // api_secret's sealed value onto signature_secret (same credential, other field).
    await sql`update credential_secrets d set wrapped_key = s.wrapped_key, ciphertext = s.ciphertext, master_version = s.master_version
      from credential_secrets s where s.credential_id = ${vo.body.id} and s.field = 'api_secret' and d.credential_id = ${vo.body.id} and d.field = 'signature_secret'`.execute(db);
    await expect(t.services.vault.resolveWorkspaceCredential(w.workspace.id, 'vonage')).rejects.toMatchObject({ code: 'credential_invalid' });
    // Vonage's api_secret onto Twilio's auth_token (same workspace, other provider).
    await sql`update credential_secrets d set wrapped_key = s.wrapped_key, ciphertext = s.ciphertext, master_version = s.master_version
      from credential_secrets s where s.credential_id = ${vo.body.id} and s.field = 'api_secret' and d.credential_id = ${tw.id} and d.field = 'auth_token'`.execute(db);
    const before = fake.seen.length;
    const res = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/twilio/test`);
    expect(res.status, res.raw).toBe(422);
    expect(res.body.error.code).toBe('credential_invalid');
    expect(fake.seen.length).toBe(before);
  });

  for (const column of ['ciphertext', 'wrapped_key'] as const) {
    test(`a flipped byte in the stored ${column} → 422 credential_invalid, nothing sent`, async () => {
      const w = await seedWorkspace(t);
      const sid = `AC${rand('')}`;
      const token = rand('tok_');
      const cred = await putTwilio(w.key, w.workspace.id, sid, token);
      const ok = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/twilio/test`);
      expect(ok.body.ok, ok.raw).toBe(true);

      await flipByte(t.db.database.db, cred.id, 'auth_token', column);
      const before = fake.seen.length;
      for (const [url, body] of [[`/v1/workspaces/${w.workspace.id}/credentials/twilio/test`, undefined], [`/v1/workspaces/${w.workspace.id}/upstream/twilio`, { method: 'GET', path: '/x' }]] as const) {
        const res = await t.call(w.key, 'POST', url, body);
        expect(res.status, res.raw).toBe(422);
        expect(res.body.error.code).toBe('credential_invalid');
        expect(res.body.error.message).toMatch(/cannot be decrypted/);
        expectNoSecret(res.raw, { token }, 'the 422 answer');
      }
      expect(fake.seen.length).toBe(before);
      // The failed calls never reached the provider, so nothing about them is in the call log.
      const calls = await t.call(w.key, 'GET', `/v1/workspaces/${w.workspace.id}/api-logs`);
      expect(calls.body.data).toHaveLength(1);
    });
  }
});

describe('the instance-admin secret', () => {
  test('is sealed under its own binding; copied into a workspace row it does not decrypt and is never sent', async () => {
    const instance = await createInstance();
    const adminToken = `1|${rand('superadmin')}`;
    const put = await t.call(t.adminKey, 'PUT', `/v1/instances/${instance.id}/admin-credential`, { api_key: adminToken });
    expect(put.status, put.raw).toBe(200);
    expectNoSecret(put.raw, { adminToken }, 'the PUT answer');
    // Only the platform admin sets it.
    const w = await seedWorkspace(t);
    const denied = await t.call(w.key, 'PUT', `/v1/instances/${instance.id}/admin-credential`, { api_key: `2|${rand('x')}` });
    expect(denied.status).toBe(403);

    const db = t.db.database.db;
    const adminRow = await db.selectFrom('instance_admin_secrets').selectAll().where('instance_id', '=', instance.id).executeTakeFirstOrThrow();
    expect(adminRow.master_version).toBe('v1');
    expect(JSON.stringify(adminRow)).not.toContain(adminToken.slice(2));
    expect(decryptSecret(t.services.ring, adminRow, adminBinding(instance.id, 'emailbison'))).toBe(adminToken);
    expect(() => decryptSecret(t.services.ring, adminRow, workspaceBinding(w.workspace.id, 'emailbison', 'api_key'))).toThrow();
    expect(() => decryptSecret(t.services.ring, adminRow, workspaceBinding(instance.id, 'emailbison', 'api_key'))).toThrow();

    // A workspace's own Email Bison credential works…
    const wsToken = `5|${rand('wstoken')}`;
    const eb = await t.call(w.key, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/emailbison`, { instance: instance.id, api_key: wsToken });
    expect(eb.status, eb.raw).toBe(200);
    const ok = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/test`);
    expect(ok.body.ok, ok.raw).toBe(true);
    expect(fake.sentText()).toContain(`Bearer ${wsToken}`);

    // …until the admin secret's sealed values are copied over it.
    const copied = await sql`
      update credential_secrets s set master_version = a.master_version, wrapped_key = a.wrapped_key, ciphertext = a.ciphertext
      from instance_admin_secrets a where a.instance_id = ${instance.id} and s.credential_id = ${eb.body.id} and s.field = 'api_key'`.execute(db);
    expect(Number(copied.numAffectedRows)).toBe(1);
    const before = fake.seen.length;
    const test = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/test`);
    expect(test.status, test.raw).toBe(422);
    expect(test.body.error.code).toBe('credential_invalid');
    const up = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/upstream/emailbison`, { method: 'GET', path: '/sender-emails' });
    expect(up.status, up.raw).toBe(422);
    expect(up.body.error.code).toBe('credential_invalid');
    const sync = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/sync/emailbison/sender-emails`);
    expect(sync.status, sync.raw).toBe(422);
    expect(fake.seen.length).toBe(before);
    expect(fake.sentText()).not.toContain(adminToken);
    expectNoSecret(`${test.raw}${up.raw}${sync.raw}`, { adminToken }, 'the 422 answers');
  });

  test("a workspace's sealed secret copied into the admin row does not decrypt: generate answers 422 and sends nothing", async () => {
    const instance = await createInstance();
    const adminToken = `1|${rand('superadmin')}`;
    expect((await t.call(t.adminKey, 'PUT', `/v1/instances/${instance.id}/admin-credential`, { api_key: adminToken })).status).toBe(200);
    const w = await seedWorkspace(t);
    const wsToken = `5|${rand('wstoken')}`;
    const eb = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/emailbison`, { instance: instance.name, api_key: wsToken, provider_workspace_id: '9' });
    expect(eb.status, eb.raw).toBe(200);

    const db = t.db.database.db;
    const saved = await db.selectFrom('instance_admin_secrets').selectAll().where('instance_id', '=', instance.id).executeTakeFirstOrThrow();
    await sql`
      update instance_admin_secrets a set master_version = s.master_version, wrapped_key = s.wrapped_key, ciphertext = s.ciphertext
      from credential_secrets s where s.credential_id = ${eb.body.id} and s.field = 'api_key' and a.instance_id = ${instance.id}`.execute(db);
    await expect(t.services.vault.resolveInstanceAdminCredential(instance.id)).rejects.toThrow();

    const before = fake.seen.length;
    const gen = await t.call(t.adminKey, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/generate`, {});
    expect(gen.status, gen.raw).toBe(422);
    expect(gen.body.error.code).toBe('credential_invalid');
    expect(fake.seen.length).toBe(before);
    expectNoSecret(gen.raw, { adminToken, wsToken }, 'the generate answer');

    // Put back, the admin secret mints the workspace's token again (the test above was not vacuous).
    await db.updateTable('instance_admin_secrets').set({ master_version: saved.master_version, wrapped_key: saved.wrapped_key, ciphertext: saved.ciphertext }).where('instance_id', '=', instance.id).execute();
    const again = await t.call(t.adminKey, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/generate`, {});
    expect(again.status, again.raw).toBe(200);
    const minted = fake.seen.slice(before).filter((s) => s.url.endsWith('/api-tokens'));
    expect(minted).toHaveLength(1);
    expect(minted[0].authorization).toBe(`Bearer ${adminToken}`);
    expect(minted[0].url).toBe('/eb/api/workspaces/v1.1/9/api-tokens');
    expect((await t.services.vault.resolveWorkspaceCredential(w.workspace.id, 'emailbison')).secrets.api_key).toMatch(/^77\|/);
  });
});

describe('the embedded default master key file', () => {
  function capture() {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as { level: number; msg: string; path?: string }) };
  }

  test('created on first load with mode 0600 and a warning; read back unchanged; re-secured when world-readable', () => {
    const dataDir = join(tmp('gatehouse-key-'), 'nested', 'data');
    const path = join(dataDir, MASTER_KEY_FILE);
    const first = capture();
    const ring = loadMasterKeys({ dataDir, log: first.log });
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^v1:[A-Za-z0-9+/]{43}=\n$/);
    expect(ring.active).toBe('v1');
    expect(ring.keys.get('v1')!.equals(Buffer.from(text.trim().slice(3), 'base64'))).toBe(true);
    const warned = first.parsed().filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0].path).toBe(path);
    expect(warned[0].msg).toMatch(/created a master key/);
    expect(first.lines.join('')).not.toContain(text.trim().slice(3));

    // A restart reads the same key and says nothing.
    const second = capture();
    const again = loadMasterKeys({ dataDir, log: second.log });
    expect(again.keys.get('v1')!.equals(ring.keys.get('v1')!)).toBe(true);
    expect(second.lines).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(text);

    // Made world-readable (a careless copy or restore): put back to 0600, with a warning.
    chmodSync(path, 0o644);
    const third = capture();
    const fixed = loadMasterKeys({ dataDir, log: third.log });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(fixed.keys.get('v1')!.equals(ring.keys.get('v1')!)).toBe(true);
    expect(third.parsed().filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/readable by others.*0600/)]);
    chmodSync(path, 0o640);
    loadMasterKeys({ dataDir, log: silent });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('GATEHOUSE_MASTER_KEYS wins: no file is created', () => {
    const dataDir = tmp('gatehouse-key-');
    const ring = loadMasterKeys({ masterKeys: `v7:${K1}`, dataDir, log: silent });
    expect(ring.active).toBe('v7');
    expect(existsSync(join(dataDir, MASTER_KEY_FILE))).toBe(false);
  });

  test('a broken key file is refused naming the file and the problem, not its content', () => {
    const dataDir = tmp('gatehouse-key-');
    const short = randomBytes(16).toString('base64');
    writeFileSync(join(dataDir, MASTER_KEY_FILE), `v1:${short}\n`, { mode: 0o600 });
    expect(() => loadMasterKeys({ dataDir, log: silent })).toThrow(new RegExp(`${MASTER_KEY_FILE}: v1 is 16 bytes`));
    try {
      loadMasterKeys({ dataDir, log: silent });
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
  });

  test('services without GATEHOUSE_MASTER_KEYS use the file: a second process on the same data dir reads the secrets', async () => {
    const dataDir = tmp('gatehouse-key-');
    // The credential's base URL is the loopback fake: private targets allowed, as everywhere in tests.
    const config = loadConfig({ GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_LOG_LEVEL: 'silent', GATEHOUSE_CREDENTIAL_CACHE_MS: '0', GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' });
    expect(config.masterKeys).toBeUndefined();
    const w = await seedWorkspace(t);
    const token = rand('filekey_');
    const one = await createServices(config, t.db.database, silent);
    try {
      expect(statSync(join(dataDir, MASTER_KEY_FILE)).mode & 0o777).toBe(0o600);
      await one.vault.putCredential(systemActor(), w.workspace.id, 'twilio', { account_sid: 'AC1', auth_token: token, base_url: `${fake.base}/twilio` });
    } finally {
      await one.close();
    }
    const two = await createServices(config, t.db.database, silent);
    try {
      expect((await two.vault.resolveWorkspaceCredential(w.workspace.id, 'twilio')).secrets.auth_token).toBe(token);
    } finally {
      await two.close();
    }
    // The test app's own random key is not the file's: it cannot read this secret.
    await expect(t.services.vault.resolveWorkspaceCredential(w.workspace.id, 'twilio')).rejects.toMatchObject({ code: 'credential_invalid' });
  });
});

// ---------------------------------------------------------------------------------------------
// Rewrap: secrets written under v1 by one process, moved to v2 by another, read by a third with v2 only.

interface Fixture {
  creds: Array<{ ws: string; provider: ProviderId; secrets: Record<string, string> }>;
  admin: { instanceId: string; apiKey: string };
  rows: number;
}

async function storeFixture(s: Services): Promise<Fixture> {
  const actor = systemActor();
  const org = await s.tenancy.createOrganization(actor, { name: rand('org-') });
  const ws: string[] = [];
  for (let i = 0; i < 3; i++) ws.push((await s.tenancy.createWorkspace(actor, org.id, { name: `ws-${i}` })).id);
  const instance = await s.instances.create(actor, { provider: 'emailbison', name: rand('eb-'), base_url: 'https://eb.example.com/api' });
  const creds: Fixture['creds'] = [
    { ws: ws[0], provider: 'twilio', secrets: { auth_token: rand('t0_') } },
    { ws: ws[1], provider: 'twilio', secrets: { auth_token: rand('t1_') } },
    { ws: ws[0], provider: 'vonage', secrets: { api_secret: rand('v0_'), signature_secret: rand('s0_') } },
    { ws: ws[2], provider: 'vonage', secrets: { api_secret: rand('v2_'), signature_secret: rand('s2_') } },
    { ws: ws[1], provider: 'emailbison', secrets: { api_key: `3|${rand('eb')}` } },
  ];
  // Each workspace its own provider account: one account belongs to one workspace.
  const plain = (ws: string): Partial<Record<ProviderId, Record<string, string>>> => ({
    twilio: { account_sid: `AC${ws}` }, vonage: { api_key: `vk${ws}` }, emailbison: { instance: instance.name, provider_workspace_id: ws },
  });
  for (const c of creds) await s.vault.putCredential(actor, c.ws, c.provider, { ...plain(c.ws)[c.provider], ...c.secrets });
  const apiKey = `1|${rand('admin')}`;
  await s.vault.putInstanceAdminCredential(actor, instance.id, apiKey);
  return { creds, admin: { instanceId: instance.id, apiKey }, rows: 7 + 1 };
}

/** Every secret of the fixture decrypts to what was stored, through this services instance. */
async function expectAllReadable(s: Services, f: Fixture) {
  for (const c of f.creds) expect((await s.vault.resolveWorkspaceCredential(c.ws, c.provider)).secrets).toEqual(c.secrets);
  expect((await s.vault.resolveInstanceAdminCredential(f.admin.instanceId)).apiKey).toBe(f.admin.apiKey);
}

async function versions(db: Kysely<DB>): Promise<Record<string, number>> {
  const r = await sql<{ v: string; n: string }>`
    select master_version as v, count(*)::text as n from (
      select master_version from credential_secrets union all select master_version from instance_admin_secrets) x
    group by master_version order by master_version`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.v, Number(x.n)]));
}

async function allSealed(db: Kysely<DB>) {
  const ws = await db.selectFrom('credential_secrets').select(['credential_id', 'field', 'master_version', 'wrapped_key', 'ciphertext']).orderBy('credential_id').orderBy('field').execute();
  const admin = await db.selectFrom('instance_admin_secrets').select(['instance_id', 'master_version', 'wrapped_key', 'ciphertext']).orderBy('instance_id').execute();
  return [...ws.map((r) => ({ id: `${r.credential_id}|${r.field}`, ...r })), ...admin.map((r) => ({ id: r.instance_id, ...r }))].map(({ id, master_version, wrapped_key, ciphertext }) => ({ id, master_version, wrapped_key, ciphertext }));
}

describe('vault rewrap', () => {
  test('moves every data key to the active master key; the old key can then be removed', async () => {
    const app = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${K1}`, GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
    const opened: Services[] = [];
    try {
      const fixture = await storeFixture(app.services);
      const database = app.db.database;
      const before = await allSealed(database.db);
      expect(before).toHaveLength(fixture.rows);
      expect(await versions(database.db)).toEqual({ v1: fixture.rows });

      // A second process, configured with the new key first and the old one still present.
      const both = await servicesOn(database, `v2:${K2},v1:${K1}`);
      opened.push(both);
      await expectAllReadable(both, fixture); // v1 rows still read during the rollout
      const progress: Array<[number, number]> = [];
      const report = await rewrapDataKeys(sealedColumnsOf(database.db), both.ring, (done, total) => progress.push([done, total]));
      expect(report).toEqual({ active: 'v2', total: fixture.rows, rewrapped: fixture.rows, failures: [], remaining: 0 });
      expect(progress[0]).toEqual([0, fixture.rows]);
      expect(progress.at(-1)).toEqual([fixture.rows, fixture.rows]);
      expect(progress.map(([d]) => d)).toEqual([...progress.map(([d]) => d)].sort((x, y) => x - y));

      const after = await allSealed(database.db);
      expect(await versions(database.db)).toEqual({ v2: fixture.rows });
      for (const row of after) {
        const old = before.find((b) => b.id === row.id)!;
        expect(row.ciphertext).toBe(old.ciphertext); // only the data key's wrapping changed
        expect(row.wrapped_key).not.toBe(old.wrapped_key);
      }

      // A third process with ONLY v2 reads everything: v1 can be dropped from GATEHOUSE_MASTER_KEYS.
      const onlyNew = await servicesOn(database, `v2:${K2}`);
      opened.push(onlyNew);
      await expectAllReadable(onlyNew, fixture);
      // …and one with only the old key reads nothing any more (the rows really moved).
      const onlyOld = await servicesOn(database, `v1:${K1}`);
      opened.push(onlyOld);
      const c = fixture.creds[0];
      await expect(onlyOld.vault.resolveWorkspaceCredential(c.ws, c.provider)).rejects.toMatchObject({ code: 'credential_invalid', message: expect.stringContaining('v2 is not configured') });
      await expect(onlyOld.vault.resolveInstanceAdminCredential(fixture.admin.instanceId)).rejects.toThrow(/v2 is not configured/);

      // Run again: nothing left to do.
      expect(await rewrapDataKeys(sealedColumnsOf(database.db), both.ring)).toEqual({ active: 'v2', total: 0, rewrapped: 0, failures: [], remaining: 0 });
    } finally {
      for (const s of opened) await s.close();
      await app.close();
    }
  });

  test('an interrupted rewrap leaves a mix that still reads; running it again finishes', async () => {
    const app = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${K1}` });
    const opened: Services[] = [];
    try {
      const fixture = await storeFixture(app.services);
      const db = app.db.database.db;
      const both = await servicesOn(app.db.database, `v2:${K2},v1:${K1}`);
      opened.push(both);
      const crash = new Error('interrupted');
      await expect(
        rewrapDataKeys(sealedColumnsOf(db), both.ring, (done) => {
          if (done >= 2) throw crash;
        }),
      ).rejects.toBe(crash);
      expect(await versions(db)).toEqual({ v1: fixture.rows - 2, v2: 2 });
      await expectAllReadable(both, fixture); // mid-way, with both keys, everything reads

      const resumed = await rewrapDataKeys(sealedColumnsOf(db), both.ring);
      expect(resumed).toEqual({ active: 'v2', total: fixture.rows - 2, rewrapped: fixture.rows - 2, failures: [], remaining: 0 });
      expect(await versions(db)).toEqual({ v2: fixture.rows });
      const onlyNew = await servicesOn(app.db.database, `v2:${K2}`);
      opened.push(onlyNew);
      await expectAllReadable(onlyNew, fixture);
    } finally {
      for (const s of opened) await s.close();
      await app.close();
    }
  });

  test('a row that cannot be unwrapped is reported in failures; every other row is rewrapped', async () => {
    const app = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${K1}` });
    const opened: Services[] = [];
    try {
      const fixture = await storeFixture(app.services);
      const db = app.db.database.db;
      const victim = fixture.creds[2]; // ws0's Vonage
      const cred = await db.selectFrom('credentials').select('id').where('workspace_id', '=', victim.ws).where('provider', '=', 'vonage').executeTakeFirstOrThrow();
      await flipByte(db, cred.id, 'signature_secret', 'wrapped_key');
      // And the admin row wrapped under a key nobody has any more.
      await db.updateTable('instance_admin_secrets').set({ master_version: 'v0' }).where('instance_id', '=', fixture.admin.instanceId).execute();

      const both = await servicesOn(app.db.database, `v2:${K2},v1:${K1}`);
      opened.push(both);
      const report = await rewrapDataKeys(sealedColumnsOf(db), both.ring);
      expect(report.total).toBe(fixture.rows);
      expect(report.rewrapped).toBe(fixture.rows - 2);
      expect(report.remaining).toBe(2);
      expect(report.failures).toEqual([
        { table: 'credential_secrets', id: { credential_id: cred.id, field: 'signature_secret' }, reason: expect.stringMatching(/does not authenticate/) },
        { table: 'instance_admin_secrets', id: { instance_id: fixture.admin.instanceId }, reason: expect.stringMatching(/v0 is not configured/) },
      ]);
      expect(await versions(db)).toEqual({ v0: 1, v1: 1, v2: fixture.rows - 2 });
      // The rest reads with v2 alone.
      const onlyNew = await servicesOn(app.db.database, `v2:${K2}`);
      opened.push(onlyNew);
      for (const c of fixture.creds.filter((x) => x !== victim)) expect((await onlyNew.vault.resolveWorkspaceCredential(c.ws, c.provider)).secrets).toEqual(c.secrets);
      // A re-run reports the same two and changes nothing else.
      const again = await rewrapDataKeys(sealedColumnsOf(db), both.ring);
      expect(again).toMatchObject({ total: 2, rewrapped: 0, remaining: 2 });
      expect(again.failures).toHaveLength(2);
    } finally {
      for (const s of opened) await s.close();
      await app.close();
    }
  });

  test('works through many batches, skipping failed rows without looping', async () => {
    const app = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${K1}` });
    try {
      const w = await seedWorkspace(app);
      const db = app.db.database.db;
      const ring1 = parseMasterKeys(`v1:${K1}`);
      await db.insertInto('credentials').values({ id: 'cred_bulk', workspace_id: w.workspace.id, provider: 'http', instance_id: null, name: null, fields: JSON.stringify({}), created_by: null }).execute();
      const N = 450;
      const values = Array.from({ length: N }, (_, i) => ({ field: `f${String(i).padStart(3, '0')}`, value: rand(`bulk${i}_`) }));
      for (let i = 0; i < N; i += 150) {
        await db
          .insertInto('credential_secrets')
          .values(values.slice(i, i + 150).map((v) => ({ credential_id: 'cred_bulk', field: v.field, ...encryptSecret(ring1, v.value, workspaceBinding(w.workspace.id, 'http', v.field)), mask: '****' })))
          .execute();
      }
      const bad = ['f005', 'f250', 'f449'];
      for (const f of bad) await flipByte(db, 'cred_bulk', f, 'wrapped_key');

      const ring21 = parseMasterKeys(`v2:${K2},v1:${K1}`);
      const report = await rewrapDataKeys(sealedColumnsOf(db), ring21);
      expect(report.total).toBe(N);
      expect(report.rewrapped).toBe(N - bad.length);
      expect(report.failures.map((f) => f.id.field).sort()).toEqual(bad);
      expect(report.remaining).toBe(bad.length);
      const ring2 = parseMasterKeys(`v2:${K2}`);
      const rows = await db.selectFrom('credential_secrets').selectAll().where('credential_id', '=', 'cred_bulk').execute();
      for (const v of values) {
        const row = rows.find((r) => r.field === v.field)!;
        if (bad.includes(v.field)) expect(row.master_version).toBe('v1');
        else expect(decryptSecret(ring2, row, workspaceBinding(w.workspace.id, 'http', v.field))).toBe(v.value);
      }
    } finally {
      await app.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// `node dist/cli.js vault rewrap`, as an operator runs it, on this run's kind of database:
// PostgreSQL through DATABASE_URL, or PGlite in a temporary GATEHOUSE_DATA_DIR.
const SLOW = 180_000;

describeCli(`the CLI: gatehouse vault rewrap (${TEST_DB})`, () => {
  test('prints progress and the final line, exits 0; afterwards only the new key is needed', async () => {
    expect(existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first').toBe(true);
    const target = await cliTarget();
    try {
      const fixture = await withTarget({ ...target.env, GATEHOUSE_MASTER_KEYS: `v1:${K1}` }, (s) => storeFixture(s));

      const run = await runCli(['vault', 'rewrap'], { ...target.env, GATEHOUSE_MASTER_KEYS: `v2:${K2},v1:${K1}` });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`rewrap \\[[^\\]]*\\] ${fixture.rows}/${fixture.rows} secrets`));
      expect(run.stdout).toContain(`active master key v2: ${fixture.rows} re-wrapped, 0 failed, 0 still on older keys`);
      expect(run.stdout.trim().split('\n').at(-1)).toBe('every secret is on the active key; older master keys can be removed from GATEHOUSE_MASTER_KEYS');
      const output = `${run.stdout}${run.stderr}`;
      expect(output).not.toContain(K1);
      expect(output).not.toContain(K2);
      for (const c of fixture.creds) expectNoSecret(output, c.secrets, 'the CLI output');

      await withTarget({ ...target.env, GATEHOUSE_MASTER_KEYS: `v2:${K2}` }, async (s) => {
        expect(await versions(s.database.db)).toEqual({ v2: fixture.rows });
        await expectAllReadable(s, fixture);
        // Now break one row and move to v3: the CLI names it and exits 1.
        const cred = await s.database.db.selectFrom('credentials').select('id').where('workspace_id', '=', fixture.creds[0].ws).where('provider', '=', 'twilio').executeTakeFirstOrThrow();
        await flipByte(s.database.db, cred.id, 'auth_token', 'wrapped_key');
      });
      const K3 = b64key();
      const failing = await runCli(['vault', 'rewrap'], { ...target.env, GATEHOUSE_MASTER_KEYS: `v3:${K3},v2:${K2}` });
      expect(failing.code, `${failing.stdout}\n${failing.stderr}`).toBe(1);
      expect(failing.stdout).toContain(`active master key v3: ${fixture.rows - 1} re-wrapped, 1 failed, 1 still on older keys`);
      expect(failing.stdout).toMatch(/failed credential_secrets cred_\S+ auth_token: ciphertext does not authenticate/);
      expect(failing.stdout).not.toContain('older master keys can be removed');
    } finally {
      await target.drop();
    }
  }, SLOW);
});
