import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { systemActor } from '../../src/http/actor.js';
import { hashKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

let t: TestApp;
let adminKeyId: string;
/** Every key handed out in this file: none may ever show up in the audit trail. */
const issuedKeys: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  issuedKeys.push(t.adminKey);
  const row = await t.services.database.db.selectFrom('api_keys').select('id').where('platform_admin', '=', true).executeTakeFirstOrThrow();
  adminKeyId = row.id;
});
afterAll(() => t.close());

const db = () => t.services.database.db;
const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

/** app.inject with explicit headers and client address, for checks on what the actor records. */
async function request(
  key: string | null,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  opts: { body?: unknown; headers?: Record<string, string>; ip?: string } = {},
) {
  const res = await t.app.inject({
    method,
    url,
    remoteAddress: opts.ip,
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...opts.headers },
    ...(opts.body === undefined ? {} : { payload: opts.body as object }),
  });
  let body: any;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, body, raw: res.body, headers: res.headers };
}

async function count(): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from audit_log`.execute(db());
  return Number(rows[0].n);
}

/** Newest entries first, as the API returns them. */
async function latest(n: number) {
  const res = await t.call(t.adminKey, 'GET', `/v1/audit?limit=${n}`);
  expect(res.status, res.raw).toBe(200);
  return res.body.data as any[];
}

async function seed(scopes: string[] = ['*']) {
  const s = await seedWorkspace(t, scopes);
  issuedKeys.push(s.key);
  return s;
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

async function verify() {
  const res = await t.call(t.adminKey, 'GET', '/v1/audit/verify');
  expect(res.status, res.raw).toBe(200);
  return res.body as { ok: boolean; entries: number; first_bad?: { seq: string; id: string; reason: string; detail: string }; checkpoints: { verified: number; last_seq: number | null } };
}

/** Edits the log as an attacker with table rights would: trigger off, change, trigger back on. */
async function tamper(statement: ReturnType<typeof sql>) {
  await db().transaction().execute(async (trx) => {
    await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`.execute(trx);
    await statement.execute(trx);
    await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`.execute(trx);
  });
}

describe('every state change appends an entry', () => {
  test('who, from where, under which request id', async () => {
    const before = await count();
    const res = await request(t.adminKey, 'POST', '/v1/organizations', {
      body: { name: unique('org'), plan: 'starter' },
      headers: { 'user-agent': 'audit-suite/1.0 (+tests)', 'x-request-id': 'req-audit-0001' },
      ip: '203.0.113.9',
    });
    expect(res.status, res.raw).toBe(201);
    expect(res.headers['x-request-id']).toBe('req-audit-0001');
    expect(await count()).toBe(before + 1);
    const [entry] = await latest(1);
    expect(entry).toMatchObject({
      workspace_id: null,
      actor: { type: 'key', id: adminKeyId, ip: '203.0.113.9', user_agent: 'audit-suite/1.0 (+tests)', request_id: 'req-audit-0001' },
      action: 'organization.created',
      category: 'tenancy',
      severity: 'info',
      resource: { type: 'organization', id: res.body.id },
      before: null,
      after: { id: res.body.id, plan: 'starter', seat_limit: 10 },
      outcome: 'success',
    });
    expect(entry.id).toMatch(/^aud_/);
    expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(entry.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('a request id the caller did not send is generated and still recorded', async () => {
    const res = await request(t.adminKey, 'POST', '/v1/organizations', { body: { name: unique('org') } });
    expect(res.status).toBe(201);
    const [entry] = await latest(1);
    expect(entry.actor.request_id).toBe(res.headers['x-request-id']);
    expect(entry.actor.request_id).toMatch(/^req_/);
  });

  test('workspace, key, member and user changes, one entry each', async () => {
    const headers = { 'user-agent': 'audit-suite/2.0', 'x-request-id': 'req-chain-1' };
    const org = await request(t.adminKey, 'POST', '/v1/organizations', { body: { name: unique('org') }, headers });
    let n = await count();

    const ws = await request(t.adminKey, 'POST', `/v1/organizations/${org.body.id}/workspaces`, { body: { name: unique('ws') }, headers });
    expect(ws.status).toBe(201);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({
      action: 'workspace.created', category: 'tenancy', workspace_id: ws.body.id,
      resource: { type: 'workspace', id: ws.body.id }, before: null, after: { name: ws.body.name }, outcome: 'success',
      actor: { id: adminKeyId, user_agent: 'audit-suite/2.0', request_id: 'req-chain-1' },
    });

    const patched = await request(t.adminKey, 'PATCH', `/v1/workspaces/${ws.body.id}`, { body: { status: 'inactive' }, headers });
    expect(patched.status).toBe(200);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({ action: 'workspace.updated', before: { status: 'active' }, after: { status: 'inactive' } });

    const key = await request(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/api-keys`, { body: { name: 'k', scopes: ['keys:read'] }, headers });
    expect(key.status).toBe(201);
    issuedKeys.push(key.body.key);
    expect(await count()).toBe(++n);
    const created = (await latest(1))[0];
    expect(created).toMatchObject({
      action: 'key.created', category: 'keys', severity: 'info', workspace_id: ws.body.id,
      resource: { type: 'api_key', id: key.body.id }, before: null, after: { id: key.body.id, name: 'k', scopes: ['keys:read'], status: 'active' },
    });

    const rotated = await request(t.adminKey, 'POST', `/v1/api-keys/${key.body.id}/rotate`, { body: { grace_s: 60 }, headers });
    expect(rotated.status, rotated.raw).toBe(201);
    issuedKeys.push(rotated.body.key);
    // The successor's key.created, then the rotation itself.
    n += 2;
    expect(await count()).toBe(n);
    const [rotation, successor] = await latest(2);
    expect(successor).toMatchObject({ action: 'key.created', resource: { id: rotated.body.id } });
    expect(rotation).toMatchObject({
      action: 'key.rotated', severity: 'warning', resource: { type: 'api_key', id: key.body.id },
      before: { id: key.body.id, status: 'active' }, after: { replaced_by: rotated.body.id, grace_s: 60 },
    });

    const revoked = await request(t.adminKey, 'DELETE', `/v1/api-keys/${rotated.body.id}`, { headers });
    expect(revoked.status).toBe(200);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({
      action: 'key.revoked', category: 'keys', severity: 'warning', outcome: 'success',
      resource: { type: 'api_key', id: rotated.body.id }, before: { status: 'active', revoked_at: null }, after: { status: 'revoked' },
    });
    expect((await latest(1))[0].after.revoked_at).not.toBeNull();
    // Revoking again changes nothing and records nothing.
    expect((await request(t.adminKey, 'DELETE', `/v1/api-keys/${rotated.body.id}`)).status).toBe(200);
    expect(await count()).toBe(n);

    const user = await request(t.adminKey, 'POST', '/v1/users', { body: { email: `${unique('u')}@example.com`, name: 'U', platform_admin: true } });
    expect(user.status).toBe(201);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({ action: 'user.created', severity: 'critical', resource: { type: 'user', id: user.body.id }, workspace_id: null });

    const member = await request(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/members`, { body: { user_id: user.body.id, role: 'member' } });
    expect(member.status).toBe(201);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({ action: 'member.added', workspace_id: ws.body.id, resource: { type: 'user', id: user.body.id }, before: null, after: { role: 'member' } });

    const rerole = await request(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/members`, { body: { user_id: user.body.id, role: 'manager' } });
    expect(rerole.status).toBe(201);
    expect(await count()).toBe(++n);
    expect((await latest(1))[0]).toMatchObject({ action: 'member.role_changed', before: { role: 'member' }, after: { role: 'manager' } });
  });

  test('reads and refused changes append nothing', async () => {
    const s = await seed();
    const n = await count();
    await t.call(t.adminKey, 'GET', `/v1/workspaces/${s.workspace.id}`);
    await t.call(t.adminKey, 'GET', '/v1/audit');
    await t.call(t.adminKey, 'GET', '/v1/audit/verify');
    const dup = await t.call(t.adminKey, 'POST', `/v1/organizations/${s.org.id}/workspaces`, { name: s.workspace.name });
    expect(dup.status).toBe(409);
    expect(await count()).toBe(n);
  });
});

describe('failed authentication', () => {
  test('is summarised as auth.failed per source, outcome failure, never with the key', async () => {
    await t.services.authFailures.flush();
    const n = await count();
    const missing = await request(null, 'GET', '/v1/workspaces', { headers: { 'user-agent': 'intruder/1', 'x-request-id': 'req-noauth' }, ip: '198.51.100.7' });
    expect(missing.status).toBe(401);
    const madeUp = 'gate_live_' + 'A'.repeat(49);
    const bad = await request(madeUp, 'GET', '/v1/workspaces', { headers: { 'user-agent': 'intruder/2', 'x-request-id': 'req-badkey' }, ip: '198.51.100.7' });
    expect(bad.status).toBe(401);
    // Nothing is chained per request; the minute's summary is.
    expect(await count()).toBe(n);
    await t.services.authFailures.flush();
    expect(await count()).toBe(n + 1);
    const [entry] = await latest(1);
    expect(entry).toMatchObject({
      action: 'auth.failed', category: 'auth', severity: 'warning', outcome: 'failure', workspace_id: null,
      actor: { type: 'key', id: 'anonymous', ip: '198.51.100.7', user_agent: 'intruder/2', request_id: 'req-badkey' },
      after: {
        count: 2,
        reasons: expect.arrayContaining([{ reason: 'missing_authorization', count: 1 }, { reason: 'not_found', count: 1 }]),
        routes: [{ route: 'GET /v1/workspaces', count: 2 }],
      },
    });
    expect(JSON.stringify(entry)).not.toContain(madeUp);
  });

  test("a revoked key's failures name the key and its workspace", async () => {
    const s = await seed();
    expect((await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${s.keyId}`)).status).toBe(200);
    const res = await request(s.key, 'GET', `/v1/workspaces/${s.workspace.id}`);
    expect(res.status).toBe(401);
    await t.services.authFailures.flush();
    const [entry] = await latest(1);
    expect(entry).toMatchObject({
      action: 'auth.failed', outcome: 'failure', workspace_id: s.workspace.id,
      resource: { type: 'api_key', id: s.keyId }, after: { count: 1, reasons: [{ reason: 'revoked', count: 1 }] },
    });
  });

  test('a missing scope is summarised under the key and its workspace', async () => {
    const s = await seed(['keys:read']);
    const res = await request(s.key, 'GET', '/v1/audit');
    expect(res.status).toBe(403);
    await t.services.authFailures.flush();
    const [entry] = await latest(1);
    expect(entry).toMatchObject({ action: 'auth.failed', outcome: 'failure', workspace_id: s.workspace.id, after: { reasons: [{ reason: 'insufficient_scope', count: 1 }], routes: [{ route: 'GET /v1/audit', count: 1 }] } });
  });
});

describe('the table is append-only', () => {
  test('UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    const n = await count();
    expect(n).toBeGreaterThan(0);
    await expect(sql`update audit_log set action = 'rewritten'`.execute(db())).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_log`.execute(db())).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_log`.execute(db())).rejects.toThrow(/append-only/);
    // Inside a transaction too, and the whole transaction fails with it.
    await expect(
      db().transaction().execute(async (trx) => {
        await sql`delete from audit_log where seq = (select max(seq) from audit_log)`.execute(trx);
      }),
    ).rejects.toThrow(/append-only/);
    expect(await count()).toBe(n);
    const { rows } = await sql<{ n: string }>`select count(*) as n from audit_log where action = 'rewritten'`.execute(db());
    expect(Number(rows[0].n)).toBe(0);
  });
});

describe('queries', () => {
  let a: Awaited<ReturnType<typeof seed>>;
  let b: Awaited<ReturnType<typeof seed>>;
  let aKeyIds: string[];

  beforeAll(async () => {
    a = await seed();
    b = await seed();
    aKeyIds = [];
    // Actions in workspace A by A's own key, and some by the admin.
    for (let i = 0; i < 4; i++) {
      const k = await t.call(a.key, 'POST', `/v1/workspaces/${a.workspace.id}/api-keys`, { name: `a${i}`, scopes: ['keys:read'] });
      expect(k.status).toBe(201);
      issuedKeys.push(k.body.key);
      aKeyIds.push(k.body.id);
    }
    expect((await t.call(a.key, 'DELETE', `/v1/api-keys/${aKeyIds[0]}`)).status).toBe(200);
    expect((await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${a.workspace.id}`, { name: unique('renamed') })).status).toBe(200);
    const bk = await t.call(b.key, 'POST', `/v1/workspaces/${b.workspace.id}/api-keys`, { name: 'b', scopes: ['keys:read'] });
    issuedKeys.push(bk.body.key);
  });

  async function all(query: string, key = t.adminKey) {
    const res = await t.call(key, 'GET', `/v1/audit?limit=1000${query ? '&' + query : ''}`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    return res.body.data as any[];
  }

  test('by workspace', async () => {
    const entries = await all(`workspace_id=${a.workspace.id}`);
    // workspace.created, key.created (seed), 4× key.created, key.revoked, workspace.updated
    expect(entries.map((e) => e.action).sort()).toEqual(
      ['key.created', 'key.created', 'key.created', 'key.created', 'key.created', 'key.revoked', 'workspace.created', 'workspace.updated'].sort(),
    );
    expect(entries.every((e) => e.workspace_id === a.workspace.id)).toBe(true);
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
  });

  test('by actor', async () => {
    const entries = await all(`actor=${a.keyId}`);
    expect(entries).toHaveLength(5);
    expect(entries.every((e) => e.actor.id === a.keyId)).toBe(true);
    expect(entries.filter((e) => e.action === 'key.created').map((e) => e.resource.id).sort()).toEqual([...aKeyIds].sort());
  });

  test('by exact action and by action family', async () => {
    const revoked = await all(`workspace_id=${a.workspace.id}&action=key.revoked`);
    expect(revoked.map((e) => e.resource.id)).toEqual([aKeyIds[0]]);
    const keys = await all(`workspace_id=${a.workspace.id}&action=${encodeURIComponent('key.*')}`);
    expect(keys).toHaveLength(6);
    expect(keys.every((e) => e.action.startsWith('key.'))).toBe(true);
    // `key.*` is a prefix on the action name, not a pattern: nothing else slips in.
    expect(await all(`workspace_id=${a.workspace.id}&action=key`)).toHaveLength(0);
    expect(await all(`workspace_id=${a.workspace.id}&action=${encodeURIComponent('k%')}`)).toHaveLength(0);
    expect(await all(`workspace_id=${a.workspace.id}&action=${encodeURIComponent('%*')}`)).toHaveLength(0);
  });

  test('from is inclusive and to exclusive', async () => {
    const entries = await all(`workspace_id=${a.workspace.id}`);
    const pivot = entries[3];
    const at = Date.parse(pivot.at);
    const from = await all(`workspace_id=${a.workspace.id}&from=${encodeURIComponent(pivot.at)}`);
    const to = await all(`workspace_id=${a.workspace.id}&to=${encodeURIComponent(pivot.at)}`);
    expect(from.map((e) => e.id)).toEqual(entries.filter((e) => Date.parse(e.at) >= at).map((e) => e.id));
    expect(to.map((e) => e.id)).toEqual(entries.filter((e) => Date.parse(e.at) < at).map((e) => e.id));
    expect(from.map((e) => e.id)).toContain(pivot.id);
    expect(to.map((e) => e.id)).not.toContain(pivot.id);
    expect(from.length + to.length).toBe(entries.length);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect(await all(`workspace_id=${a.workspace.id}&from=${encodeURIComponent(future)}`)).toHaveLength(0);
    const bad = await t.call(t.adminKey, 'GET', '/v1/audit?from=yesterday');
    expect(bad.status).toBe(400);
  });

  test('limit and cursor pagination walk every entry once', async () => {
    const everything = await all(`workspace_id=${a.workspace.id}`);
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${a.workspace.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data);
      cursor = res.body.next_cursor;
      if (cursor) expect(cursor).toBe(String(res.body.data[res.body.data.length - 1].seq));
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBe(3); // 8 entries: 3 + 3 + 2
    expect(seen.map((e) => e.id)).toEqual(everything.map((e) => e.id));
    expect((await t.call(t.adminKey, 'GET', '/v1/audit?limit=0')).status).toBe(400);
    expect((await t.call(t.adminKey, 'GET', '/v1/audit?limit=1001')).status).toBe(400);
    expect((await t.call(t.adminKey, 'GET', '/v1/audit?cursor=abc')).status).toBe(400);
  });

  test("a workspace key sees its own workspace's entries only", async () => {
    const own = await all('', a.key);
    expect(own.length).toBeGreaterThanOrEqual(8);
    expect(own.every((e) => e.workspace_id === a.workspace.id)).toBe(true);
    expect(await all(`workspace_id=${a.workspace.id}`, a.key)).toEqual(await all(`workspace_id=${a.workspace.id}`));
    expect(own).toEqual(await all(`workspace_id=${a.workspace.id}`));
    // The actor filter does not widen it: B's key's actions stay hidden.
    expect(await all(`actor=${b.keyId}`, a.key)).toHaveLength(0);

    const foreign = await t.call(a.key, 'GET', `/v1/audit?workspace_id=${b.workspace.id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    const foreignCsv = await t.call(a.key, 'GET', `/v1/audit?workspace_id=${b.workspace.id}&format=csv`);
    expect(foreignCsv.status).toBe(404);

    const csv = await t.call(a.key, 'GET', '/v1/audit?format=csv');
    expect(csv.status).toBe(200);
    const rows = parseCsv(csv.raw);
    const wsColumn = rows[0].indexOf('workspace_id');
    expect(rows.slice(1).every((r) => r[wsColumn] === a.workspace.id)).toBe(true);
    expect(csv.raw).not.toContain(b.workspace.id);

    // Walking the chain is for the platform admin.
    expect((await t.call(a.key, 'GET', '/v1/audit/verify')).status).toBe(403);
  });
});

describe('export', () => {
  test('CSV: a header, one line per entry, formulas defused', async () => {
    const s = await seed();
    const evil = await request(t.adminKey, 'POST', `/v1/organizations/${s.org.id}/workspaces`, {
      body: { name: '=HYPERLINK(1)' },
      headers: { 'user-agent': '=HYPERLINK("http://evil.example","click")', 'x-request-id': '-2-3' },
    });
    expect(evil.status, evil.raw).toBe(201);
    const ws = evil.body.id as string;
    await request(t.adminKey, 'PATCH', `/v1/workspaces/${ws}`, { body: { name: '@SUM(1)' }, headers: { 'user-agent': '+1+1' } });
    await request(t.adminKey, 'PATCH', `/v1/workspaces/${ws}`, { body: { status: 'inactive' }, headers: { 'user-agent': 'plain, with "quotes"' } });

    const res = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${ws}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="gatehouse-audit-[0-9-]+\.csv"$/);
    // One physical line per entry, plus the header.
    const lines = res.raw.split(/\r?\n/).filter((l) => l !== '');
    expect(lines).toHaveLength(4);
    const rows = parseCsv(res.raw);
    expect(rows[0]).toEqual(['seq', 'id', 'at', 'workspace_id', 'actor_type', 'actor_id', 'actor_ip', 'user_agent', 'request_id', 'action', 'category', 'severity', 'resource_type', 'resource_id', 'before', 'after', 'outcome', 'hash', 'organization_id']);
    const col = (name: string) => rows[0].indexOf(name);
    const body = rows.slice(1);
    expect(body.map((r) => r[col('action')])).toEqual(['workspace.created', 'workspace.updated', 'workspace.updated']);
    expect(body.every((r) => r.length === rows[0].length)).toBe(true);
    // Oldest first in an export.
    expect(body.map((r) => Number(r[col('seq')]))).toEqual(body.map((r) => Number(r[col('seq')])).sort((x, y) => x - y));

    expect(body[0][col('user_agent')]).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(body[0][col('request_id')]).toBe(`'-2-3`);
    expect(body[1][col('user_agent')]).toBe(`'+1+1`);
    expect(body[2][col('user_agent')]).toBe('plain, with "quotes"');
    // The workspace's own name travels inside the JSON of `after`, intact.
    expect(JSON.parse(body[0][col('after')])).toMatchObject({ name: '=HYPERLINK(1)' });
    expect(JSON.parse(body[1][col('after')])).toMatchObject({ name: '@SUM(1)' });
    // No cell anywhere can start a formula.
    for (const r of body) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  test('JSON: a valid array of every entry, across many pages', async () => {
    const s = await seed();
    const total = 1010;
    for (let i = 0; i < total; i++) {
      await t.services.audit.record(systemActor(`req-bulk-${i}`), {
        workspaceId: s.workspace.id,
        action: 'test.bulk',
        category: 'system',
        after: { i },
      });
    }
    const { rows } = await sql<{ n: string }>`select count(*) as n from audit_log where workspace_id = ${s.workspace.id}`.execute(db());
    const expected = Number(rows[0].n);
    expect(expected).toBe(total + 2); // + workspace.created and the seed's key.created

    const res = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${s.workspace.id}&format=json`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="gatehouse-audit-[0-9-]+\.json"$/);
    const entries = JSON.parse(res.raw) as any[];
    expect(Array.isArray(entries)).toBe(true);
    expect(entries).toHaveLength(expected);
    expect(new Set(entries.map((e) => e.id)).size).toBe(expected);
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const bulk = entries.filter((e) => e.action === 'test.bulk');
    expect(bulk.map((e) => e.after.i)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(bulk[0]).toMatchObject({ workspace_id: s.workspace.id, actor: { type: 'system', request_id: 'req-bulk-0' }, category: 'system' });

    // The same through the CSV: a line per entry.
    const csv = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${s.workspace.id}&format=csv`);
    expect(parseCsv(csv.raw)).toHaveLength(expected + 1);

    // And an empty export is still valid JSON.
    const none = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=ws_none&format=json`);
    expect(JSON.parse(none.raw)).toEqual([]);
  });
});

describe('no secrets', () => {
  test('no key, nor its hash, appears anywhere in the audit trail', async () => {
    const s = await seed();
    const rotated = await t.call(s.key, 'POST', `/v1/api-keys/${s.keyId}/rotate`, { grace_s: 0 });
    expect(rotated.status, rotated.raw).toBe(201);
    issuedKeys.push(rotated.body.key);
    const platform = await t.services.apiKeys.createPlatformAdminKey(systemActor(), 'second admin');
    issuedKeys.push(platform.key);
    // The old key is refused now; that refusal is audited too.
    expect((await t.call(s.key, 'GET', '/v1/workspaces')).status).toBe(401);

    expect(issuedKeys.length).toBeGreaterThanOrEqual(4);
    const { rows } = await sql`select * from audit_log`.execute(db());
    const dump = JSON.stringify(rows);
    for (const key of issuedKeys) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(hashKey(key));
      expect(dump).not.toContain(key.slice(10, 40));
    }
    // The key entries are there, just without the key.
    expect(rows.some((r: any) => r.action === 'key.created' && r.resource_id === rotated.body.id)).toBe(true);
  });
});

describe('the hash chain', () => {
  test('verifies over every entry', async () => {
    const result = await verify();
    expect(result).toEqual({ ok: true, entries: await count(), checkpoints: { verified: 0, last_seq: null } });
    expect(result.entries).toBeGreaterThan(1000); // more than one page of the walk
  });

  test('concurrent writers keep one unbroken chain', async () => {
    await t.services.authFailures.flush();
    const before = await count();
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        i % 4 === 3 ? t.call(null, 'GET', '/v1/workspaces') : t.call(t.adminKey, 'POST', '/v1/organizations', { name: unique('concurrent') }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([...Array(18).fill(201), ...Array(6).fill(401)]);
    // The six refusals come from one source: one summary entry once flushed.
    await t.services.authFailures.flush();
    expect(await count()).toBe(before + 19);
    expect(await verify()).toMatchObject({ ok: true, entries: before + 19 });
  });

  test('an edited `after` is named exactly', async () => {
    const { rows } = await sql<{ seq: string; id: string; after: unknown }>`
      select seq, id, after from audit_log where action = 'workspace.updated' order by seq limit 1`.execute(db());
    const victim = rows[0];
    await tamper(sql`update audit_log set after = jsonb_set(after, '{status}', '"active"') where seq = ${victim.seq}`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_bad).toMatchObject({ seq: String(victim.seq), id: victim.id, reason: 'hash_mismatch' });
    const { rows: earlier } = await sql<{ n: string }>`select count(*) as n from audit_log where seq < ${victim.seq}`.execute(db());
    expect(result.entries).toBe(Number(earlier[0].n));

    // Put it back exactly and the chain holds again.
    await tamper(sql`update audit_log set after = ${JSON.stringify(victim.after)}::jsonb where seq = ${victim.seq}`);
    expect((await verify()).ok).toBe(true);
  });

  test('an edited action is named exactly', async () => {
    const { rows } = await sql<{ seq: string; id: string; action: string }>`
      select seq, id, action from audit_log where action = 'key.revoked' order by seq desc limit 1`.execute(db());
    const victim = rows[0];
    await tamper(sql`update audit_log set action = 'key.created' where seq = ${victim.seq}`);
    const result = await verify();
    expect(result).toMatchObject({ ok: false, first_bad: { seq: String(victim.seq), id: victim.id, reason: 'hash_mismatch' } });

    await tamper(sql`update audit_log set action = ${victim.action} where seq = ${victim.seq}`);
    expect((await verify()).ok).toBe(true);
  });

  test('a deleted entry in the middle is named as a gap at the next one', async () => {
    const { rows } = await sql<{ seq: string }>`select seq from audit_log order by seq`.execute(db());
    const middle = rows[Math.floor(rows.length / 2)].seq;
    const { rows: around } = await sql<any>`select * from audit_log where seq >= ${middle} order by seq limit 2`.execute(db());
    const [removed, next] = around;
    await tamper(sql`delete from audit_log where seq = ${removed.seq}`);
    const result = await verify();
    expect(result).toMatchObject({ ok: false, entries: rows.findIndex((r) => r.seq === middle), first_bad: { seq: String(next.seq), id: next.id, reason: 'gap', detail: `seq ${removed.seq} is missing before this entry: deleted` } });

    // Restoring the row (inserts are allowed) heals the chain.
    await db().insertInto('audit_log').values({ ...removed, before: removed.before === null ? null : JSON.stringify(removed.before), after: removed.after === null ? null : JSON.stringify(removed.after), at: new Date(removed.at).toISOString() }).execute();
    expect(await verify()).toMatchObject({ ok: true, entries: rows.length });
  });

  test('the last entry edited is caught too', async () => {
    const { rows } = await sql<{ seq: string; id: string; actor_ip: string | null }>`
      select seq, id, actor_ip from audit_log order by seq desc limit 1`.execute(db());
    await tamper(sql`update audit_log set actor_ip = '10.6.6.6' where seq = ${rows[0].seq}`);
    expect((await verify()).first_bad).toMatchObject({ seq: String(rows[0].seq), id: rows[0].id, reason: 'hash_mismatch' });
    await tamper(sql`update audit_log set actor_ip = ${rows[0].actor_ip} where seq = ${rows[0].seq}`);
    expect((await verify()).ok).toBe(true);
  });
});
