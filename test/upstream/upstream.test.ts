import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jobHandlers } from '../../src/jobs/handlers.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';
import { startFakeTwilio, type FakeTwilio } from '../fakes/twilio.js';

type Seeded = Awaited<ReturnType<typeof seedWorkspace>>;
interface Tenant extends Seeded {
  id: string;
  team: number;
  token: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hidden = (secret: string) => secret.slice(4, -4);

/** A workspace with its own team on the fake and its own token stored as its Email Bison credential. */
async function tenant(t: TestApp, fake: FakeEmailBison, instance: string, team: number, accounts = 20): Promise<Tenant> {
  const seeded = await seedWorkspace(t);
  fake.addTeam(team, accounts);
  const token = fake.addApiToken(team);
  const res = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${seeded.workspace.id}/credentials/emailbison`, { instance, api_key: token, provider_workspace_id: String(team) });
  expect(res.status, res.raw).toBe(200);
  return { ...seeded, id: seeded.workspace.id, team, token };
}

const upstream = (t: TestApp, w: Tenant, body: Record<string, unknown>, key = w.key) => t.call(key, 'POST', `/v1/workspaces/${w.id}/upstream/emailbison`, body);
const logs = async (t: TestApp, w: Tenant, query = '') => {
  const res = await t.call(w.key, 'GET', `/v1/workspaces/${w.id}/api-logs${query}`);
  expect(res.status, res.raw).toBe(200);
  return res.body.data as Array<Record<string, any>>;
};
const health = async (t: TestApp, w: { id: string; key: string }) => {
  const res = await t.call(w.key, 'GET', `/v1/workspaces/${w.id}/health`);
  expect(res.status, res.raw).toBe(200);
  return res.body;
};
const events = (t: TestApp, workspaceId: string, type: string) =>
  t.services.database.db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId).where('type', '=', type).execute();

describe('one workspace calling upstream', () => {
  let t: TestApp;
  let fake: FakeEmailBison;
  let instance: string;
  let W: Tenant;
  beforeAll(async () => {
    t = await createTestApp();
    fake = await startFakeEmailBison();
    instance = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency', base_url: fake.url })).body.id;
    W = await tenant(t, fake, instance, 201, 40);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  describe('the upstream route', () => {
    test('answers the provider response: status, headers, body, duration_ms, attempts', async () => {
      const before = fake.seen.length;
      const res = await upstream(t, W, { method: 'GET', path: '/sender-emails', query: { page: 1, 'tag_ids[]': [3, 4] } });
      expect(res.status, res.raw).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['attempts', 'body', 'duration_ms', 'headers', 'status']);
      expect(res.body).toMatchObject({ status: 200, attempts: 1, headers: { 'content-type': 'application/json' } });
      expect(Number.isInteger(res.body.duration_ms)).toBe(true);
      expect(res.body.headers).not.toHaveProperty('connection');
      expect(res.body.body.meta).toMatchObject({ current_page: 1, per_page: 15, total: 40, last_page: 3 });
      expect(res.body.body.data).toHaveLength(15);
      expect(res.body.body.data[0]).toEqual({
        id: expect.any(Number), name: expect.any(String), email: expect.stringMatching(/@team201\.example$/), daily_limit: 30,
        type: expect.any(String), status: 'Connected', warmup_enabled: true, tags: [], created_at: expect.any(String),
      });
      expect(fake.seen.slice(before)).toMatchObject([{ method: 'GET', path: '/api/sender-emails', query: { page: '1', 'tag_ids[]': ['3', '4'] }, token: W.token }]);
    });

    test.each(['/../x', '//evil.com/x', 'http://x', 'https://evil.com/api/users', '/sender-emails/../../x', '/%2e%2e/x', '/users\\..\\x', 'users'])(
      'a path that could leave the base URL is refused with 400: %s',
      async (path) => {
        const before = fake.seen.length;
        const res = await upstream(t, W, { method: 'GET', path });
        expect(res.status, res.raw).toBe(400);
        expect(res.body.error.code).toBe('validation_failed');
        expect(fake.seen.length).toBe(before);
      },
    );

    test('a GET answered 500 then 200 is retried: attempts 2, both with the workspace token', async () => {
      fake.fail({ status: 500, times: 1, path: '/sender-emails', token: W.token });
      const before = fake.seen.length;
      const res = await upstream(t, W, { method: 'GET', path: '/sender-emails', query: { page: 2 } });
      expect(res.body).toMatchObject({ status: 200, attempts: 2 });
      expect(fake.seen.slice(before).map((s) => [s.status, s.token])).toEqual([[500, W.token], [200, W.token]]);
    });

    test('a 429 with Retry-After: 1 is honoured before the retry (attempts 2)', async () => {
      fake.fail({ status: 429, times: 1, retryAfter: 1, path: '/sender-emails', token: W.token });
      const before = fake.seen.length;
      const res = await upstream(t, W, { method: 'GET', path: '/sender-emails' });
      expect(res.body).toMatchObject({ status: 200, attempts: 2 });
      const [first, second] = fake.seen.slice(before);
      expect([first.status, second.status]).toEqual([429, 200]);
      // Without Retry-After the first backoff is at most 600 ms; the provider asked for a second.
      expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    });

    test('a POST answered 500 is not retried', async () => {
      fake.fail({ status: 500, times: 5, method: 'POST', path: '/sender-emails', token: W.token });
      const before = fake.seen.length;
      const res = await upstream(t, W, { method: 'POST', path: '/sender-emails', body: { email: 'new@team201.example' } });
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toMatchObject({ status: 500, attempts: 1, body: { message: 'Server Error' } });
      expect(fake.seen.slice(before)).toHaveLength(1);
      expect(fake.seen.at(-1)!.body).toEqual({ email: 'new@team201.example' });
      fake.clearFailures();
    });

    test('a GET that keeps failing gives up after its retries and passes the provider answer on', async () => {
      fake.fail({ status: 503, times: 10, path: '/sender-emails', token: W.token });
      const before = fake.seen.length;
      const res = await upstream(t, W, { method: 'GET', path: '/sender-emails' });
      fake.clearFailures();
      expect(res.body).toMatchObject({ status: 503, attempts: 3 });
      expect(fake.seen.slice(before)).toHaveLength(3);
    });

    test('an unknown provider is 404, a provider without a credential 422, a bad body 400', async () => {
      expect((await t.call(W.key, 'POST', `/v1/workspaces/${W.id}/upstream/mailchimp`, { method: 'GET', path: '/x' })).status).toBe(404);
      const twilio = await t.call(W.key, 'POST', `/v1/workspaces/${W.id}/upstream/twilio`, { method: 'GET', path: '/x' });
      expect(twilio.status).toBe(422);
      expect(twilio.body.error).toMatchObject({ code: 'credential_missing', details: { workspace_id: W.id, provider: 'twilio' } });
      expect((await upstream(t, W, { method: 'TRACE', path: '/users' })).status).toBe(400);
      expect((await upstream(t, W, { method: 'GET', path: '/users', headers: { authorization: 'x' } })).status).toBe(400);
    });

    test('a key without upstream:call is refused', async () => {
      const key = await t.call(t.adminKey, 'POST', `/v1/workspaces/${W.id}/api-keys`, { name: 'ro', scopes: ['credentials:read'] });
      const res = await upstream(t, W, { method: 'GET', path: '/users' }, key.body.key);
      expect(res.status).toBe(403);
    });
  });

  describe('the call log', () => {
    let L: Tenant;
    let adminKeyId: string;
    let mid: string;
    beforeAll(async () => {
      L = await tenant(t, fake, instance, 202, 20);
      adminKeyId = (await t.call(null, 'POST', '/v1/keys/verify', { key: t.adminKey })).body.key_id;
      for (let i = 0; i < 3; i++) expect((await upstream(t, L, { method: 'GET', path: '/sender-emails' })).body.status).toBe(200);
      expect((await t.call(L.key, 'POST', `/v1/workspaces/${L.id}/credentials/emailbison/test`)).body.ok).toBe(true);
      fake.fail({ status: 401, times: 1, path: '/sender-emails', token: L.token });
      expect((await upstream(t, L, { method: 'GET', path: '/sender-emails' })).body.status).toBe(401);
      fake.fail({ status: 500, times: 3, path: '/sender-emails', token: L.token });
      expect((await upstream(t, L, { method: 'GET', path: '/sender-emails' })).body).toMatchObject({ status: 500, attempts: 3 });
      await sleep(30);
      mid = new Date().toISOString();
      await sleep(30);
      for (let i = 0; i < 2; i++) expect((await upstream(t, L, { method: 'GET', path: '/users' }, t.adminKey)).body.status).toBe(200);
    });

    test('every call is logged: endpoint, method, status_code, duration_ms, key_suffix, caller, trigger', async () => {
      const all = await logs(t, L);
      expect(all).toHaveLength(8);
      for (const e of all) {
        expect(e).toMatchObject({ provider: 'emailbison', method: 'GET', key_suffix: L.token.slice(-4) });
        expect(Number.isInteger(e.duration_ms) && e.duration_ms >= 0).toBe(true);
      }
      // Newest first.
      expect(all.map((e) => [e.endpoint, e.status_code, e.attempts, e.caller, e.trigger, e.ok])).toEqual([
        ['/users', 200, 1, adminKeyId, 'api', true],
        ['/users', 200, 1, adminKeyId, 'api', true],
        ['/sender-emails', 500, 3, L.keyId, 'api', false],
        ['/sender-emails', 401, 1, L.keyId, 'api', false],
        ['/users', 200, 1, L.keyId, 'test', true],
        ['/sender-emails', 200, 1, L.keyId, 'api', true],
        ['/sender-emails', 200, 1, L.keyId, 'api', true],
        ['/sender-emails', 200, 1, L.keyId, 'api', true],
      ]);
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
      expect((await logs(t, W)).every((e) => e.key_suffix === W.token.slice(-4))).toBe(true);
    });

    test('filters: status=ok, status=error, status=401, from and to', async () => {
      expect(await logs(t, L, '?status=ok')).toHaveLength(6);
      expect((await logs(t, L, '?status=error')).map((e) => e.status_code)).toEqual([500, 401]);
      expect((await logs(t, L, '?status=401')).map((e) => e.status_code)).toEqual([401]);
      expect((await logs(t, L, `?from=${encodeURIComponent(mid)}`)).map((e) => e.caller)).toEqual([adminKeyId, adminKeyId]);
      expect(await logs(t, L, `?to=${encodeURIComponent(mid)}`)).toHaveLength(6);
      expect(await logs(t, L, `?status=ok&to=${encodeURIComponent(mid)}`)).toHaveLength(4);
      expect((await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?status=maybe`)).status).toBe(400);
      expect((await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?from=yesterday`)).status).toBe(400);
    });

    test('limit and cursor page through every entry once', async () => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const res: { body: { data: Array<{ id: number }>; next_cursor: string | null } } = await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...res.body.data.map((e) => e.id));
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(seen).toHaveLength(8);
      expect(new Set(seen).size).toBe(8);
    });

    test('format=csv streams a CSV with a header row, filters applied', async () => {
      const res = await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?format=csv`);
      expect(res.status).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^text\/csv/);
      expect(String(res.headers['content-disposition'])).toMatch(/^attachment; filename="gatehouse-api-logs-.*\.csv"$/);
      const rows = parse(res.raw, { columns: true }) as Array<Record<string, string>>;
      expect(res.raw.split('\n')[0]).toBe('id,created_at,provider,method,endpoint,status_code,ok,duration_ms,attempts,key_suffix,caller,trigger,instance_id,error');
      expect(rows).toHaveLength(8);
      expect(rows.every((r) => r.key_suffix === L.token.slice(-4))).toBe(true);
      expect(rows.filter((r) => r.caller === L.keyId)).toHaveLength(6);
      const errorsOnly = parse((await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?format=csv&status=error`)).raw, { columns: true }) as Array<Record<string, string>>;
      expect(errorsOnly.map((r) => r.status_code)).toEqual(['500', '401']);
      const json = await t.call(L.key, 'GET', `/v1/workspaces/${L.id}/api-logs?format=json`);
      expect(json.body).toHaveLength(8);
    });
  });

  describe('health', () => {
    test('30 concurrent calls, 10 failing with 500 after retries: today shows exactly 30 calls and 10 errors', async () => {
      const H = await tenant(t, fake, instance, 203, 20);
      fake.fail({ status: 500, times: Number.POSITIVE_INFINITY, path: '/campaigns', token: H.token });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => upstream(t, H, { method: 'GET', path: i % 3 === 0 ? '/campaigns' : '/sender-emails' })),
      );
      fake.clearFailures();
      expect(results.filter((r) => r.body.status === 200)).toHaveLength(20);
      expect(results.filter((r) => r.body.status === 500 && r.body.attempts === 3)).toHaveLength(10);
      const h = await health(t, H);
      expect(h.providers).toHaveLength(1);
      expect(h.providers[0].today).toEqual({ calls: 30, errors: 10, success_rate: 66.7 });
      expect(h.providers[0].days).toEqual([{ day: new Date().toISOString().slice(0, 10), calls: 30, errors: 10 }]);
      expect(await logs(t, H)).toHaveLength(30);
      expect(fake.seenWith(H.token)).toHaveLength(20 + 30);
    });

    test('1–2 consecutive failures: degraded; 3: failing with one event; a success: healthy and recovered', async () => {
      const F = await tenant(t, fake, instance, 204, 5);
      const testIt = () => t.call(F.key, 'POST', `/v1/workspaces/${F.id}/credentials/emailbison/test`);
      expect((await testIt()).body.ok).toBe(true);
      expect(await health(t, F)).toMatchObject({ status: 'healthy', providers: [{ status: 'healthy', consecutive_failures: 0 }] });

      // The provider revokes the token: every call now answers 401.
      fake.revokeToken(F.token);
      const expected = ['degraded', 'degraded', 'failing', 'failing'];
      for (let i = 0; i < expected.length; i++) {
        expect((await testIt()).body).toMatchObject({ ok: false, status_code: 401 });
        const h = await health(t, F);
        expect([i + 1, h.status, h.providers[0].status, h.providers[0].consecutive_failures]).toEqual([i + 1, expected[i], expected[i], i + 1]);
        expect(h.providers[0]).toMatchObject({ last_status_code: 401, last_error: 'Unauthenticated.' });
        expect(await events(t, F.id, 'gatehouse.credential.failing')).toHaveLength(i >= 2 ? 1 : 0);
      }
      const [failing] = await events(t, F.id, 'gatehouse.credential.failing');
      expect(failing.payload).toMatchObject({ workspace_id: F.id, provider: 'emailbison', consecutive_failures: 3, status_code: 401 });
      expect(await events(t, F.id, 'gatehouse.credential.recovered')).toHaveLength(0);

      const fresh = fake.addApiToken(F.team, 'replacement');
      expect((await t.call(F.key, 'PUT', `/v1/workspaces/${F.id}/credentials/emailbison`, { api_key: fresh })).status).toBe(200);
      expect((await testIt()).body.ok).toBe(true);
      const h = await health(t, F);
      expect(h).toMatchObject({ status: 'healthy', providers: [{ status: 'healthy', consecutive_failures: 0, last_status_code: 200 }] });
      expect(h.providers[0].last_success_at > h.providers[0].last_failure_at).toBe(true);
      const recovered = await events(t, F.id, 'gatehouse.credential.recovered');
      expect(recovered).toHaveLength(1);
      expect(recovered[0].payload).toMatchObject({ workspace_id: F.id, provider: 'emailbison', consecutive_failures: 0 });

      // A wrong path is the caller's mistake: an error of the day, not a credential failure.
      const before = h.providers[0].today.errors;
      expect((await upstream(t, F, { method: 'GET', path: '/no-such-thing' })).body.status).toBe(404);
      const after = await health(t, F);
      expect(after.providers[0]).toMatchObject({ status: 'healthy', consecutive_failures: 0 });
      expect(after.providers[0].today.errors).toBe(before + 1);
    });

    test('failures arriving together on a new credential emit the failing event exactly once', async () => {
      const G = await tenant(t, fake, instance, 207, 1);
      fake.revokeToken(G.token);
      const results = await Promise.all(Array.from({ length: 8 }, () => upstream(t, G, { method: 'GET', path: '/sender-emails' })));
      expect(results.map((r) => r.body.status)).toEqual(Array(8).fill(401));
      expect((await health(t, G)).providers[0]).toMatchObject({ status: 'failing', consecutive_failures: 8, today: { calls: 8, errors: 8 } });
      expect(await events(t, G.id, 'gatehouse.credential.failing')).toHaveLength(1);
    });
  });

  describe('the sender-email sync', () => {
    let S: Tenant;
    const syncS = () => t.call(S.key, 'POST', `/v1/workspaces/${S.id}/sync/emailbison/sender-emails`);
    beforeAll(async () => {
      S = await tenant(t, fake, instance, 205, 40);
    });

    test('fetches every page following links.next with the workspace token and stores the accounts', async () => {
      const before = fake.seen.length;
      const res = await syncS();
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toMatchObject({ fetched: 40, unique: 40, provider_total: 40, duplicates: 0, pages: 3, status: 'ok' });
      expect(res.body.run_id).toMatch(/^sync_/);
      expect(fake.seen.slice(before).map((s) => [s.path, s.query.page, s.token])).toEqual([1, 2, 3].map((p) => ['/api/sender-emails', String(p), S.token]));
      expect(await t.services.emailbison.senderEmailCount(S.id)).toBe(40);
      expect((await logs(t, S)).map((e) => e.trigger)).toEqual(['sync', 'sync', 'sync']);
    });

    test('an account repeated across pages is counted once, and as a duplicate', async () => {
      fake.setTeamOptions(S.team, { repeatAcrossPages: true });
      const res = await syncS();
      expect(res.body).toMatchObject({ fetched: 41, unique: 40, provider_total: 40, duplicates: 1, pages: 3, status: 'ok' });
      expect(await t.services.emailbison.senderEmailCount(S.id)).toBe(40);
    });

    test('a 429 in the middle of a sync is waited out and the run completes', async () => {
      fake.setTeamOptions(S.team, {});
      fake.fail({ status: 429, times: 1, retryAfter: 0, path: '/sender-emails', fromPage: 2, token: S.token });
      const before = fake.seen.length;
      const res = await syncS();
      expect(res.body).toMatchObject({ fetched: 40, unique: 40, pages: 3, status: 'ok' });
      expect(fake.seen.slice(before).map((s) => [s.query.page, s.status])).toEqual([['1', 200], ['2', 429], ['2', 200], ['3', 200]]);
    });

    test('a provider total that disagrees marks the run mismatch, and the workspace health degraded', async () => {
      fake.setTeamOptions(S.team, { totalSkew: 3 });
      const res = await syncS();
      expect(res.body).toMatchObject({ fetched: 40, unique: 40, provider_total: 43, duplicates: 0, status: 'mismatch' });
      const h = await health(t, S);
      expect(h.last_sync).toMatchObject({ id: res.body.run_id, kind: 'sender-emails', status: 'mismatch', unique: 40, provider_total: 43 });
      expect(h.providers[0].status).toBe('healthy');
      expect(h.status).toBe('degraded');
      fake.setTeamOptions(S.team, {});
    });

    test('a 401 in the middle of a sync is a 502, a failed run, and the stored accounts stay as they were', async () => {
      fake.fail({ status: 401, times: 1, path: '/sender-emails', fromPage: 2, token: S.token });
      const res = await syncS();
      expect(res.status, res.raw).toBe(502);
      expect(res.body.error.code).toBe('upstream_failed');
      expect(res.body.error.message).toContain('page 2');
      expect(res.raw).not.toContain(hidden(S.token));
      const run = await t.services.database.db.selectFrom('sync_runs').selectAll().where('workspace_id', '=', S.id).orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(run).toMatchObject({ status: 'failed', pages: 1, fetched: 15 });
      expect(run.error).toContain('page 2');
      expect(run.finished_at).not.toBeNull();
      expect((await health(t, S)).last_sync).toMatchObject({ status: 'failed' });
      expect(await t.services.emailbison.senderEmailCount(S.id)).toBe(40);
    });
  });

  describe('onboarding', () => {
    test('reflects real state step by step: nothing → credential → successful test → sync (3 of 5)', async () => {
      const O = await seedWorkspace(t);
      const id = O.workspace.id;
      const checklist = async () => {
        const res = await t.call(O.key, 'GET', `/v1/workspaces/${id}/onboarding`);
        expect(res.status, res.raw).toBe(200);
        return res.body as { completed: number; total: number; steps: Array<{ id: string; done: boolean }> };
      };
      const done = (c: Awaited<ReturnType<typeof checklist>>) => c.steps.filter((s) => s.done).map((s) => s.id);

      const empty = await checklist();
      expect(empty.steps.map((s) => s.id)).toEqual(['credential_stored', 'credential_tested', 'inbound_configured', 'inbound_received', 'first_sync']);
      expect([empty.completed, empty.total, done(empty)]).toEqual([0, 5, []]);

      fake.addTeam(206, 3);
      const put = (api_key: string) => t.call(O.key, 'PUT', `/v1/workspaces/${id}/credentials/emailbison`, { instance, api_key, provider_workspace_id: '206' });
      expect((await put(`777|${'q'.repeat(40)}`)).status).toBe(200);
      expect(done(await checklist())).toEqual(['credential_stored']);

      // A failed test is no evidence.
      expect((await t.call(O.key, 'POST', `/v1/workspaces/${id}/credentials/emailbison/test`)).body.ok).toBe(false);
      expect((await checklist()).completed).toBe(1);

      expect((await put(fake.addApiToken(206))).status).toBe(200);
      expect((await t.call(O.key, 'POST', `/v1/workspaces/${id}/credentials/emailbison/test`)).body.ok).toBe(true);
      expect(done(await checklist())).toEqual(['credential_stored', 'credential_tested']);

      expect((await t.call(O.key, 'POST', `/v1/workspaces/${id}/sync/emailbison/sender-emails`)).body.status).toBe('ok');
      const synced = await checklist();
      expect([synced.completed, synced.total, done(synced)]).toEqual([3, 5, ['credential_stored', 'credential_tested', 'first_sync']]);
    });
  });

  describe('no secret leaks', () => {
    test('no token appears in any api-logs response, the audit log, the app logs or any database table', async () => {
      const tokens = fake.tokens().map((k) => k.token);
      expect(tokens.length).toBeGreaterThan(5);
      const haystacks: Array<[string, string]> = [['app logs', t.logs.join('\n')]];
      const workspaces = (await t.call(t.adminKey, 'GET', '/v1/workspaces')).body.data as Array<{ id: string }>;
      expect(workspaces.length).toBeGreaterThan(5);
      for (const w of workspaces) {
        for (const q of ['', '?format=csv', '?format=json']) haystacks.push([`api-logs ${w.id}${q}`, (await t.call(t.adminKey, 'GET', `/v1/workspaces/${w.id}/api-logs${q}`)).raw]);
        haystacks.push([`credentials ${w.id}`, (await t.call(t.adminKey, 'GET', `/v1/workspaces/${w.id}/credentials`)).raw]);
        haystacks.push([`health ${w.id}`, (await t.call(t.adminKey, 'GET', `/v1/workspaces/${w.id}/health`)).raw]);
      }
      const audit = await t.call(t.adminKey, 'GET', '/v1/audit?limit=1000');
      expect(audit.body.data.some((e: { action: string }) => e.action === 'credential.updated')).toBe(true);
      haystacks.push(['audit', audit.raw], ['audit csv', (await t.call(t.adminKey, 'GET', '/v1/audit?format=csv')).raw]);

      const db = t.services.database.db;
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['credentials', 'credential_secrets', 'upstream_calls', 'audit_log', 'credential_health', 'events', 'sync_runs']));
      for (const { table_name } of tables.rows) {
        const rows = await sql<{ row: string }>`select row_to_json(t)::text as row from ${sql.table(table_name)} as t`.execute(db);
        haystacks.push([`table ${table_name}`, rows.rows.map((r) => r.row).join('\n')]);
      }
      for (const token of tokens) {
        for (const [where, text] of haystacks) {
          expect(text.includes(token), `${where} holds a token`).toBe(false);
          expect(text.includes(hidden(token)), `${where} holds a token's hidden part`).toBe(false);
        }
      }
    });
  });
});

describe('fleet views and the credential monitor', () => {
  let t: TestApp;
  let fake1: FakeEmailBison;
  let fake2: FakeEmailBison;
  let twilio: FakeTwilio;
  let one: string;
  let two: string;
  let W1: Tenant;
  let W2: Tenant;
  let W3: Tenant;
  let W4: Seeded;
  const monitor = () => jobHandlers(t.services)['credentials.monitor']({}, {} as never);
  const summary = async (key = t.adminKey) => (await t.call(key, 'GET', '/v1/health/summary')).body;

  beforeAll(async () => {
    t = await createTestApp();
    [fake1, fake2, twilio] = await Promise.all([startFakeEmailBison(), startFakeEmailBison(), startFakeTwilio()]);
    one = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency-one', base_url: fake1.url })).body.id;
    two = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency-two', base_url: fake2.url })).body.id;
    W1 = await tenant(t, fake1, one, 301, 3);
    W2 = await tenant(t, fake1, one, 302, 3);
    W3 = await tenant(t, fake2, two, 401, 3);
    W4 = await seedWorkspace(t);
    twilio.addAccount({ sid: 'AC11111111111111111111111111111111', authToken: 'twilio-token-for-w1-000', friendlyName: 'W1', status: 'active' });
    const tw = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${W1.id}/credentials/twilio`, { account_sid: 'AC11111111111111111111111111111111', auth_token: 'twilio-token-for-w1-000', base_url: twilio.url });
    expect(tw.status, tw.raw).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([fake1?.close(), fake2?.close(), twilio?.close()]);
  });

  test('the summary counts active workspaces per status with percentages, no_key included', async () => {
    expect(await summary()).toEqual({ total: 4, counts: { healthy: 3, degraded: 0, failing: 0, no_key: 1 }, percentages: { healthy: 75, degraded: 0, failing: 0, no_key: 25 } });
    // A workspace key sees its own workspace only.
    expect(await summary(W4.key)).toEqual({ total: 1, counts: { healthy: 0, degraded: 0, failing: 0, no_key: 1 }, percentages: { healthy: 0, degraded: 0, failing: 0, no_key: 100 } });
  });

  test('coverage per provider and instance', async () => {
    const res = await t.call(t.adminKey, 'GET', '/v1/coverage');
    expect(res.status, res.raw).toBe(200);
    expect(res.body.workspaces).toBe(4);
    const by = Object.fromEntries(res.body.providers.map((p: { provider: string }) => [p.provider, p]));
    expect(Object.keys(by).sort()).toEqual(['aws_sns', 'emailbison', 'http', 'n8n', 'twilio', 'vapi', 'vonage', 'whatsapp']);
    expect(by.emailbison).toEqual({
      provider: 'emailbison', workspaces: 4, with_credential: 3, without_credential: 1, coverage_pct: 75,
      instances: [{ id: one, name: 'agency-one', with_credential: 2 }, { id: two, name: 'agency-two', with_credential: 1 }],
    });
    expect(by.twilio).toMatchObject({ with_credential: 1, without_credential: 3, coverage_pct: 25, instances: [] });
    expect(by.vonage).toMatchObject({ with_credential: 0, without_credential: 4, coverage_pct: 0 });
    const own = await t.call(W1.key, 'GET', '/v1/coverage');
    expect(own.body.workspaces).toBe(1);
  });

  test('the monitor job tests every active credential, moves health, and emits failing then recovered', async () => {
    fake1.revokeToken(W2.token);
    await monitor();
    expect(fake1.seenWith(W1.token).map((s) => s.path)).toEqual(['/api/users']);
    expect(fake2.seenWith(W3.token).map((s) => s.path)).toEqual(['/api/users']);
    expect(twilio.seen.map((s) => [s.username, s.status])).toEqual([['AC11111111111111111111111111111111', 200]]);
    expect((await health(t, W2)).providers[0]).toMatchObject({ status: 'degraded', consecutive_failures: 1, last_status_code: 401 });
    expect(await summary()).toMatchObject({ total: 4, counts: { healthy: 2, degraded: 1, failing: 0, no_key: 1 }, percentages: { healthy: 50, degraded: 25, failing: 0, no_key: 25 } });
    const logged = await logs(t, W1);
    expect(logged).toHaveLength(2);
    expect(logged.every((e) => e.trigger === 'monitor' && e.caller === 'job:credential-monitor')).toBe(true);

    await monitor();
    await monitor();
    expect(await health(t, W2)).toMatchObject({ status: 'failing', providers: [{ status: 'failing', consecutive_failures: 3 }] });
    expect(await events(t, W2.id, 'gatehouse.credential.failing')).toHaveLength(1);
    expect(await events(t, W1.id, 'gatehouse.credential.failing')).toHaveLength(0);
    expect((await summary()).counts).toEqual({ healthy: 2, degraded: 0, failing: 1, no_key: 1 });
    expect((await health(t, W1)).providers.map((p: { provider: string; today: { calls: number } }) => [p.provider, p.today.calls]).sort()).toEqual([['emailbison', 3], ['twilio', 3]]);

    const replacement = fake1.addApiToken(W2.team, 'replacement');
    expect((await t.call(t.adminKey, 'PUT', `/v1/workspaces/${W2.id}/credentials/emailbison`, { api_key: replacement })).status).toBe(200);
    await monitor();
    expect((await health(t, W2)).status).toBe('healthy');
    expect(await events(t, W2.id, 'gatehouse.credential.recovered')).toHaveLength(1);
    expect((await summary()).counts).toEqual({ healthy: 3, degraded: 0, failing: 0, no_key: 1 });
    expect(fake1.seenWith(replacement)).toHaveLength(1);
  });

  test('an inactive workspace leaves the summary and coverage, and the monitor skips it', async () => {
    expect((await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${W4.workspace.id}`, { status: 'inactive' })).status).toBe(200);
    expect((await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${W3.id}`, { status: 'inactive' })).status).toBe(200);
    expect(await summary()).toEqual({ total: 2, counts: { healthy: 2, degraded: 0, failing: 0, no_key: 0 }, percentages: { healthy: 100, degraded: 0, failing: 0, no_key: 0 } });
    const coverage = (await t.call(t.adminKey, 'GET', '/v1/coverage')).body;
    expect(coverage.workspaces).toBe(2);
    expect(coverage.providers.find((p: { provider: string }) => p.provider === 'emailbison')).toMatchObject({ with_credential: 2, coverage_pct: 100 });
    const before = fake2.seen.length;
    await monitor();
    expect(fake2.seen.length).toBe(before);
  });
});
