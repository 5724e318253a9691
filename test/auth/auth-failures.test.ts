import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Unauthenticated noise stays out of the chain: failed authentications are a metric and one audit
// summary per source and minute; an address that keeps failing gets 429; header values are cut.
let t: TestApp;
let valid: string;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_AUTH_FAILURE_LIMIT: '150', GATEHOUSE_LOGIN_IP_LIMIT: '1000' });
  valid = (await seedWorkspace(t)).key;
});
afterAll(async () => t?.close());

const db = () => t.db.database.db;
const newAuditRows = async (afterSeq: number) =>
  (await sql<{ actor_ip: string; user_agent: string | null; after: any; workspace_id: string | null; resource_id: string | null }>`
    select actor_ip, user_agent, after, workspace_id, resource_id from audit_log where action = 'auth.failed' and seq > ${afterSeq} order by seq`.execute(db())).rows;
const headSeq = async () => Number((await sql<{ s: string | null }>`select max(seq)::text as s from audit_log`.execute(db())).rows[0]!.s ?? 0);

function get(key: string | null, ip: string, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'GET', url: '/v1/workspaces', remoteAddress: ip, headers: { ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) } });
}

describe('failed authentications are summarised', () => {
  test('300 bad requests from three addresses make three audit entries whose counts add up to 300', async () => {
    await t.services.authFailures.flush();
    const from = await headSeq();
    const ips = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
    for (let i = 0; i < 300; i++) {
      const res = await get(i % 2 ? null : 'gate_live_' + 'B'.repeat(49), ips[i % 3]!);
      expect(res.statusCode).toBe(401);
    }
    expect(await newAuditRows(from)).toHaveLength(0);
    await t.services.authFailures.flush();
    const rows = await newAuditRows(from);
    expect(rows.map((r) => r.actor_ip).sort()).toEqual(ips);
    expect(rows.reduce((sum, r) => sum + r.after.count, 0)).toBe(300);
    for (const r of rows) {
      const tally = Object.fromEntries(r.after.reasons.map((x: { reason: string; count: number }) => [x.reason, x.count]));
      expect(Object.keys(tally).sort()).toEqual(['missing_authorization', 'not_found']);
      expect(tally.missing_authorization + tally.not_found).toBe(100);
    }
    const metric = await t.services.metrics.registry.getSingleMetric('gatehouse_auth_failures_total')!.get();
    const counted = metric.values.filter((v) => ['missing_authorization', 'not_found'].includes(String(v.labels.reason))).reduce((s, v) => s + v.value, 0);
    expect(counted).toBeGreaterThanOrEqual(300);
  });

  test('a summary is written on shutdown, not lost with the process', async () => {
    const other = await createTestApp();
    try {
      expect((await other.app.inject({ method: 'GET', url: '/v1/workspaces', remoteAddress: '192.0.2.44' })).statusCode).toBe(401);
      await other.app.close();
      await other.services.close();
      const rows = await sql<{ after: any }>`select after from audit_log where action = 'auth.failed' and actor_ip = '192.0.2.44'`.execute(other.db.database.db);
      expect(rows.rows.map((r) => r.after.count)).toEqual([1]);
    } finally {
      await other.db.drop();
    }
  });
});

describe('an address that keeps failing', () => {
  test('gets 429 rate_limited with Retry-After past the limit; valid keys, from it or elsewhere, still pass', async () => {
    const ip = '203.0.113.9';
    for (let i = 0; i < 150; i++) expect((await get(null, ip)).statusCode).toBe(401);
    const limited = await get(null, ip);
    expect(limited.statusCode).toBe(429);
    expect(JSON.parse(limited.body).error).toMatchObject({ code: 'rate_limited', details: { reason: 'too_many_failures' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get(valid, ip)).statusCode).toBe(200);
    expect((await get(valid, '203.0.113.10')).statusCode).toBe(200);
    expect((await get(null, '203.0.113.10')).statusCode).toBe(401);
    await t.services.authFailures.flush();
  });
});

describe('header values are cut before they are stored', () => {
  const hugeAgent = 'Mozilla/5.0 ' + 'x'.repeat(13 * 1024);

  test('a 13 KB User-Agent is kept to 256 characters in the failure summary, the sign-in audit and the session; the chain still verifies', async () => {
    const from = await headSeq();
    expect((await get(null, '198.51.100.99', { 'user-agent': hugeAgent })).statusCode).toBe(401);
    await t.services.authFailures.flush();
    const [summary] = await newAuditRows(from);
    expect(summary!.user_agent).toBe(hugeAgent.slice(0, 256));

    const email = `ua-${Date.now()}@example.com`;
    expect((await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'Ua', password: 'a long enough password' })).status).toBe(201);
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'user-agent': hugeAgent }, payload: { email, password: 'a long enough password' } });
    expect(login.statusCode, login.body).toBe(200);
    const widest = await sql<{ n: number }>`select max(length(user_agent))::int as n from audit_log`.execute(db());
    expect(widest.rows[0]!.n).toBeLessThanOrEqual(256);
    const session = await sql<{ n: number }>`select max(length(user_agent))::int as n from sessions`.execute(db());
    expect(session.rows[0]!.n).toBe(256);
    const verify = await t.call(t.adminKey, 'GET', '/v1/audit/verify');
    expect(verify.status, verify.raw).toBe(200);
    expect(verify.body.ok).toBe(true);
  });
});
