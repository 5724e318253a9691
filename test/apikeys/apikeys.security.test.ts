import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

let t: TestApp;
let a: Awaited<ReturnType<typeof seedWorkspace>>;
let b: Awaited<ReturnType<typeof seedWorkspace>>;
let userId: string;
beforeAll(async () => {
  t = await createTestApp();
  a = await seedWorkspace(t, ['*'], 'tenant-a');
  b = await seedWorkspace(t, ['*'], 'tenant-b');
  const user = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'person@example.com', name: 'A Person' });
  expect(user.status, user.raw).toBe(201);
  userId = user.body.id;
});
afterAll(() => t.close());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function createKey(workspaceId: string, body: Record<string, unknown> = {}, as = t.adminKey) {
  const res = await t.call(as, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'sec', scopes: ['*'], ...body });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; key: string };
}

/** Every route that names a workspace, organization or key, aimed at tenant `ws`. */
const routesAgainst = (ws: { workspace: { id: string }; org: { id: string }; keyId: string }): [string, string, unknown?][] => [
  ['GET', `/v1/workspaces/${ws.workspace.id}/api-keys`],
  ['POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'intruder', scopes: ['keys:read'] }],
  ['GET', `/v1/api-keys/${ws.keyId}`],
  ['POST', `/v1/api-keys/${ws.keyId}/rotate`, { grace_s: 0 }],
  ['GET', `/v1/api-keys/${ws.keyId}/usage`],
  ['DELETE', `/v1/api-keys/${ws.keyId}`],
  ['GET', `/v1/workspaces/${ws.workspace.id}`],
  ['PATCH', `/v1/workspaces/${ws.workspace.id}`, { name: 'taken-over', status: 'inactive' }],
  ['GET', `/v1/workspaces/${ws.workspace.id}/members`],
  ['POST', `/v1/workspaces/${ws.workspace.id}/members`, { user_id: 'USER', role: 'admin' }],
  ['GET', `/v1/organizations/${ws.org.id}`],
  ['GET', `/v1/audit?workspace_id=${ws.workspace.id}`],
];
const withUser = (body: unknown) => (body && typeof body === 'object' && 'user_id' in body ? { ...body, user_id: userId } : body);

describe('cross-tenant', () => {
  test("workspace A's '*' key gets 404 on every route of workspace B, and B is untouched", async () => {
    const keysBefore = (await t.call(b.key, 'GET', `/v1/workspaces/${b.workspace.id}/api-keys`)).body.data;
    for (const [method, url, body] of routesAgainst(b)) {
      const res = await t.call(a.key, method as 'GET', url, withUser(body));
      expect(res.status, `${method} ${url}: ${res.raw}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    // B's key still works and nothing of B changed.
    const wsB = await t.call(b.key, 'GET', `/v1/workspaces/${b.workspace.id}`);
    expect(wsB.status).toBe(200);
    expect(wsB.body).toMatchObject({ name: 'tenant-b', status: 'active' });
    expect(await t.call(null, 'POST', '/v1/keys/verify', { key: b.key }).then((r) => r.body.code)).toBe('valid');
    const keyB = await t.call(b.key, 'GET', `/v1/api-keys/${b.keyId}`);
    expect(keyB.body).toMatchObject({ status: 'active', replaced_by: null });
    expect((await t.call(b.key, 'GET', `/v1/workspaces/${b.workspace.id}/api-keys`)).body.data).toEqual(keysBefore);
    expect((await t.call(b.key, 'GET', `/v1/workspaces/${b.workspace.id}/members`)).body.data).toEqual([]);
    // The same routes work for a tenant on itself: the 404s above are about tenancy, not broken routes.
    const d = await seedWorkspace(t);
    const own = await createKey(d.workspace.id);
    // A workspace admits only people of its organization: the platform admin places the person first.
    await t.call(t.adminKey, 'POST', `/v1/workspaces/${d.workspace.id}/members`, { user_id: userId, role: 'read_only' });
    for (const [method, url, body] of routesAgainst({ ...d, keyId: own.id })) {
      const res = await t.call(d.key, method as 'GET', url, withUser(body));
      expect(res.status, `${method} ${url}: ${res.raw}`).toBeLessThan(300);
    }
  });

  test('a workspace key cannot see the platform admin key or other tenants in lists', async () => {
    const adminKeyId = (await t.call(null, 'POST', '/v1/keys/verify', { key: t.adminKey })).body.key_id;
    expect(adminKeyId).toMatch(/^key_/);
    for (const [method, url] of [['GET', `/v1/api-keys/${adminKeyId}`], ['DELETE', `/v1/api-keys/${adminKeyId}`], ['POST', `/v1/api-keys/${adminKeyId}/rotate`], ['GET', `/v1/api-keys/${adminKeyId}/usage`]]) {
      expect((await t.call(b.key, method as 'GET', url)).status, `${method} ${url}`).toBe(404);
    }
    expect((await t.call(t.adminKey, 'GET', `/v1/api-keys/${adminKeyId}`)).body.status).toBe('active');
    const workspaces = (await t.call(a.key, 'GET', '/v1/workspaces')).body.data.map((w: any) => w.id);
    expect(workspaces).toEqual([a.workspace.id]);
    const orgs = (await t.call(a.key, 'GET', '/v1/organizations')).body.data.map((o: any) => o.id);
    expect(orgs).toEqual([a.org.id]);
    const audit = (await t.call(a.key, 'GET', '/v1/audit?limit=1000')).body.data;
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((e: any) => e.workspace_id === a.workspace.id)).toBe(true);
  });

  test('a workspace key cannot create organizations, workspaces or users (403)', async () => {
    const attempts: [string, unknown][] = [
      ['/v1/organizations', { name: 'rogue-org' }],
      [`/v1/organizations/${a.org.id}/workspaces`, { name: 'rogue-ws' }],
      ['/v1/users', { email: 'rogue@example.com', name: 'Rogue', platform_admin: true }],
    ];
    for (const [url, body] of attempts) {
      const res = await t.call(a.key, 'POST', url, body);
      expect(res.status, `${url}: ${res.raw}`).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    // Another tenant's organization does not exist for this key at all.
    const foreign = await t.call(a.key, 'POST', `/v1/organizations/${b.org.id}/workspaces`, { name: 'rogue-ws' });
    expect(foreign.status, foreign.raw).toBe(404);
    const db = t.services.database.db;
    expect(await db.selectFrom('organizations').select('id').where('name', '=', 'rogue-org').execute()).toEqual([]);
    expect(await db.selectFrom('workspaces').select('id').where('name', '=', 'rogue-ws').execute()).toEqual([]);
    expect(await db.selectFrom('users').select('id').where('email', '=', 'rogue@example.com').execute()).toEqual([]);
  });

  test('a narrow key cannot widen itself by rotating a broader key', async () => {
    const wide = await createKey(a.workspace.id, { scopes: ['*'] });
    const narrow = await createKey(a.workspace.id, { scopes: ['keys:read', 'keys:write'] });
    const res = await t.call(narrow.key, 'POST', `/v1/api-keys/${wide.id}/rotate`, { grace_s: 60 });
    expect(res.status, res.raw).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(res.raw).not.toMatch(/gate_(live|test)_/);
    expect((await t.call(t.adminKey, 'GET', `/v1/api-keys/${wide.id}`)).body).toMatchObject({ status: 'active', replaced_by: null });
    // Rotating a key whose scopes it holds is fine.
    const rotated = await t.call(narrow.key, 'POST', `/v1/api-keys/${narrow.id}/rotate`, { grace_s: 0 });
    expect(rotated.status, rotated.raw).toBe(201);
    expect(rotated.body.scopes).toEqual(['keys:read', 'keys:write']);
  });
});

describe('revoked keys', () => {
  test('a revoked key gets 401 on every route', async () => {
    const k = await createKey(a.workspace.id);
    const other = await createKey(a.workspace.id);
    expect((await t.call(k.key, 'DELETE', `/v1/api-keys/${k.id}`)).status).toBe(200);
    const routes: [string, string, unknown?][] = [
      ...routesAgainst({ ...a, keyId: other.id }),
      ['GET', '/v1/workspaces'],
      ['GET', '/v1/organizations'],
      ['GET', '/v1/audit'],
      ['GET', '/v1/audit/verify'],
      ['POST', '/v1/organizations', { name: 'x' }],
      ['POST', '/v1/users', { email: 'x@example.com', name: 'x' }],
      ['GET', `/v1/api-keys/${k.id}`],
    ];
    for (const [method, url, body] of routes) {
      const res = await t.call(k.key, method as 'GET', url, withUser(body));
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'unauthenticated', details: { reason: 'revoked' } });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect((await t.call(t.adminKey, 'GET', `/v1/api-keys/${other.id}`)).body.status).toBe('active');
    expect((await t.call(null, 'POST', '/v1/keys/verify', { key: k.key })).body).toEqual({ valid: false, code: 'revoked' });
  });
});

describe('secret hygiene', () => {
  test('keys never reach logs, later responses or the database; only their SHA-256 is stored', async () => {
    const c = await seedWorkspace(t, ['*'], 'tenant-c');
    const byAdmin = await createKey(c.workspace.id, { scopes: ['keys:read', 'keys:write', 'workspaces:read'] });
    const byKey = await createKey(c.workspace.id, { scopes: ['keys:read'] }, c.key);
    const graceful = await t.call(t.adminKey, 'POST', `/v1/api-keys/${byAdmin.id}/rotate`, { grace_s: 3600 });
    const immediate = await t.call(c.key, 'POST', `/v1/api-keys/${byKey.id}/rotate`, { grace_s: 0 });
    expect(graceful.status).toBe(201);
    expect(immediate.status).toBe(201);
    const keys = [t.adminKey, c.key, byAdmin.key, byKey.key, graceful.body.key, immediate.body.key];
    // Use them: authenticated calls, verify calls (the key in the body), and failures.
    for (const k of keys) {
      await t.call(k, 'GET', `/v1/workspaces/${c.workspace.id}`);
      await t.call(null, 'POST', '/v1/keys/verify', { key: k, scope: 'keys:read' });
    }
    await t.services.apiKeys.applyUsageBatch(t.services.usage.drain());
    await t.services.apiKeys.revokeDueKeys();

    // The part of a key after its displayed start is the secret; neither it nor the whole key may show.
    const leaks = (text: string) => keys.filter((k) => text.includes(k) || text.includes(k.slice(14)));
    expect(leaks(t.logs.join('\n'))).toEqual([]);
    expect(t.logs.length).toBeGreaterThan(0);

    const reads = [
      `/v1/workspaces/${c.workspace.id}/api-keys`,
      ...[c.keyId, byAdmin.id, byKey.id, graceful.body.id, immediate.body.id].flatMap((id) => [`/v1/api-keys/${id}`, `/v1/api-keys/${id}/usage`]),
      `/v1/audit?workspace_id=${c.workspace.id}&limit=1000`,
      '/v1/audit?limit=1000',
      '/v1/audit?format=csv',
      '/v1/audit?format=json',
    ];
    for (const url of reads) {
      const res = await t.call(t.adminKey, 'GET', url);
      expect(res.status, url).toBe(200);
      expect(leaks(res.raw), url).toEqual([]);
      expect(keys.filter((k) => res.raw.includes(sha256(k))), url).toEqual([]);
    }

    const db = t.services.database.db;
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['api_keys', 'audit_log', 'api_key_usage_daily']));
    const dumps: Record<string, string> = {};
    for (const { table_name } of tables.rows) {
      const rows = await sql<{ j: string }>`select row_to_json(t)::text as j from ${sql.table(table_name)} t`.execute(db);
      dumps[table_name] = rows.rows.map((r) => r.j).join('\n');
    }
    const everything = Object.values(dumps).join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(leaks(everything)).toEqual([]);
    for (const k of keys) {
      const row = await db.selectFrom('api_keys').select(['id', 'start']).where('key_hash', '=', sha256(k)).executeTakeFirst();
      expect(row, 'the SHA-256 hex of the key is stored').toBeDefined();
      expect(row!.start).toBe(k.slice(0, 14));
      // The hash is the credential's stand-in: it lives in api_keys.key_hash and nowhere else.
      for (const [table, text] of Object.entries(dumps)) {
        if (table !== 'api_keys') expect(text.includes(sha256(k)), table).toBe(false);
      }
    }
  });

  test('key.created and key.rotated audit entries hold no key and no key_hash', async () => {
    const k = await createKey(a.workspace.id, { scopes: ['keys:read'] });
    const rotated = await t.call(t.adminKey, 'POST', `/v1/api-keys/${k.id}/rotate`, { grace_s: 10 });
    expect(rotated.status).toBe(201);
    const entries = [];
    for (const action of ['key.created', 'key.rotated']) {
      const res = await t.call(t.adminKey, 'GET', `/v1/audit?action=${action}&limit=1000`);
      entries.push(...res.body.data);
    }
    const created = entries.filter((e) => e.action === 'key.created' && [k.id, rotated.body.id].includes(e.resource.id));
    expect(created).toHaveLength(2);
    expect(entries.some((e) => e.action === 'key.rotated' && e.resource.id === k.id)).toBe(true);
    const fieldNames = (v: unknown): string[] =>
      v && typeof v === 'object' ? Object.entries(v).flatMap(([name, inner]) => [name, ...fieldNames(inner)]) : [];
    for (const e of entries) {
      const names = [...fieldNames(e.before), ...fieldNames(e.after)];
      expect(names).not.toContain('key');
      expect(names).not.toContain('key_hash');
    }
    expect(created[0].after).toMatchObject({ id: expect.stringMatching(/^key_/), scopes: ['keys:read'] });
    const text = JSON.stringify(entries);
    for (const secret of [k.key, rotated.body.key]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(sha256(secret));
    }
  });

  test('failed authentications are audited as auth.failed summaries, outcome failure, without the presented key', async () => {
    await t.services.authFailures.flush();
    const revoked = await createKey(a.workspace.id);
    await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${revoked.id}`);
    const narrow = await createKey(a.workspace.id, { scopes: ['keys:read'] });
    const unknown = generateKey();
    const attempts: { id: string; authorization?: string; presented?: string; reason: string; url?: string }[] = [
      { id: 'req-fail-unknown', authorization: `Bearer ${unknown}`, presented: unknown, reason: 'not_found' },
      { id: 'req-fail-malformed', authorization: 'Bearer gate_live_not-a-real-key-at-all', presented: 'gate_live_not-a-real-key-at-all', reason: 'not_found' },
      { id: 'req-fail-revoked', authorization: `Bearer ${revoked.key}`, presented: revoked.key, reason: 'revoked' },
      { id: 'req-fail-scope', authorization: `Bearer ${narrow.key}`, presented: narrow.key, reason: 'insufficient_scope', url: `/v1/workspaces/${a.workspace.id}` },
      { id: 'req-fail-basic', authorization: 'Basic dXNlcjpwYXNz', reason: 'malformed_authorization' },
      { id: 'req-fail-missing', reason: 'missing_authorization' },
    ];
    for (const at of attempts) {
      const res = await t.app.inject({
        method: 'GET',
        url: at.url ?? `/v1/workspaces/${a.workspace.id}/api-keys`,
        headers: { 'x-request-id': at.id, ...(at.authorization ? { authorization: at.authorization } : {}) },
      });
      expect(res.statusCode, at.id).toBe(at.reason === 'insufficient_scope' ? 403 : 401);
    }
    // One summary per source and minute: the anonymous failures together, each known key's apart.
    const since = (await t.call(t.adminKey, 'GET', '/v1/audit?action=auth.failed&limit=1')).body.data[0]?.seq;
    await t.services.authFailures.flush();
    const res = await t.call(t.adminKey, 'GET', '/v1/audit?action=auth.failed&limit=1000');
    expect(res.status).toBe(200);
    const entries = res.body.data.filter((e: any) => since === undefined || BigInt(e.seq) > BigInt(since));
    expect(entries).toHaveLength(3);
    for (const entry of entries) expect(entry).toMatchObject({ action: 'auth.failed', outcome: 'failure', category: 'auth' });
    const anonymous = entries.find((e: any) => e.resource === null);
    const tally = (e: any) => Object.fromEntries(e.after.reasons.map((r: any) => [r.reason, r.count]));
    expect(anonymous.after.count).toBe(4);
    expect(tally(anonymous)).toEqual({ not_found: 2, malformed_authorization: 1, missing_authorization: 1 });
    const revokedEntry = entries.find((e: any) => e.resource?.id === revoked.id);
    expect(revokedEntry).toMatchObject({ workspace_id: a.workspace.id, after: { count: 1 } });
    expect(tally(revokedEntry)).toEqual({ revoked: 1 });
    const narrowEntry = entries.find((e: any) => e.resource?.id === narrow.id);
    expect(narrowEntry).toMatchObject({ workspace_id: a.workspace.id, after: { count: 1 } });
    expect(tally(narrowEntry)).toEqual({ insufficient_scope: 1 });
    for (const at of attempts) {
      if (at.presented) {
        expect(JSON.stringify(entries)).not.toContain(at.presented);
        expect(JSON.stringify(entries)).not.toContain(at.presented.slice(14));
      }
    }
    const rows = await sql<{ j: string }>`select row_to_json(t)::text as j from audit_log t where action = 'auth.failed'`.execute(t.services.database.db);
    const raw = rows.rows.map((r) => r.j).join('\n');
    for (const at of attempts) if (at.presented) expect(raw).not.toContain(at.presented);
  });
});
