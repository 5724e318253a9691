import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jsonLimitProblem, MAX_JSON_DEPTH } from '../../src/lib/json-limits.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Every JSON body is held to a nesting depth (64) and to finite numbers before any validator,
// handler or serializer walks it: a body past them is a 400 validation_failed naming the limit,
// never a 500 from a stack overflow, and never stored (JSON.parse reads 1e999999 as Infinity,
// which JSON.stringify would have written back as null).

/** `n` nested objects, `{"a":{"a":…1…}}`: depth n. */
const nestedObjects = (n: number, leaf = '1') => '{"a":'.repeat(n) + leaf + '}'.repeat(n);
/** `n` nested arrays: depth n. */
const nestedArrays = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('jsonLimitProblem', () => {
  test('depth 64 passes, 65 is refused, for objects and arrays alike; the path names where', () => {
    expect(jsonLimitProblem(JSON.parse(nestedObjects(MAX_JSON_DEPTH)))).toBeNull();
    expect(jsonLimitProblem(JSON.parse(nestedArrays(MAX_JSON_DEPTH)))).toBeNull();
    const deep = jsonLimitProblem(JSON.parse(nestedObjects(MAX_JSON_DEPTH + 1)));
    expect(deep).toMatchObject({ reason: 'too_deep', message: expect.stringContaining('64') });
    expect(deep!.path).toBe(Array(MAX_JSON_DEPTH).fill('a').join('/'));
    expect(jsonLimitProblem(JSON.parse(nestedArrays(MAX_JSON_DEPTH + 1)))?.reason).toBe('too_deep');
    expect(jsonLimitProblem(JSON.parse(`[1,{"b":[2,${nestedArrays(MAX_JSON_DEPTH - 2)}]}]`))?.reason).toBe('too_deep');
    expect(jsonLimitProblem(JSON.parse(`[1,{"b":[2,${nestedArrays(MAX_JSON_DEPTH - 3)}]}]`))).toBeNull();
  });

  test('100,000 levels are refused without overflowing the stack', () => {
    expect(jsonLimitProblem(JSON.parse(nestedArrays(100_000)))?.reason).toBe('too_deep');
    expect(jsonLimitProblem(JSON.parse(nestedObjects(100_000)))?.reason).toBe('too_deep');
  });

  test('non-finite numbers are refused wherever they are; finite ones of any size pass', () => {
    for (const text of ['1e999999', '-1e999999', '{"a":[0,{"b":1e400}]}', '[-1E+309]']) {
      expect(jsonLimitProblem(JSON.parse(text)), text).toMatchObject({ reason: 'number_out_of_range' });
    }
    expect(jsonLimitProblem(JSON.parse('{"a":[0,{"b":1e400}]}'))?.path).toBe('a/1/b');
    for (const text of ['1e308', '-1.7976931348623157e308', '1e-999999', '123456789012345678901234567890', '{"a":[0.5,-0,"1e999999"]}']) {
      expect(jsonLimitProblem(JSON.parse(text)), text).toBeNull();
    }
  });
});

describe('JSON bodies on /v1', () => {
  let t: TestApp;
  let ws: string;
  beforeAll(async () => {
    t = await createTestApp();
    ws = (await seedWorkspace(t)).workspace.id;
  });
  afterAll(() => t?.close());

  const post = async (url: string, payload: string, method: 'POST' | 'PATCH' | 'PUT' = 'POST') => {
    const res = await t.app.inject({ method, url, headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, payload });
    let body: any;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body, raw: res.body, headers: res.headers };
  };
  const event = (payload: string, key = `k-${Math.random()}`) => `{"type":"lead.created","idempotency_key":"${key}","payload":${payload}}`;
  const webhook = (headers: string) => `{"url":"https://hooks.example.com/in","events":["lead.*"],"headers":${headers}}`;

  function expectRefused(res: Awaited<ReturnType<typeof post>>, reason: 'too_deep' | 'number_out_of_range') {
    expect(res.status, res.raw.slice(0, 300)).toBe(400);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { reason } });
    expect(res.body.error.message).toMatch(reason === 'too_deep' ? /nested deeper than 64/ : /number out of range/);
    expect(res.body.error.request_id).toBe(res.headers['x-request-id']);
  }

  test.each([5_000, 100_000])('a body %i levels deep: 400 on events accept and on webhook create', async (depth) => {
    expectRefused(await post(`/v1/workspaces/${ws}/events`, event(nestedObjects(depth))), 'too_deep');
    expectRefused(await post(`/v1/workspaces/${ws}/events`, event(nestedArrays(depth))), 'too_deep');
    expectRefused(await post(`/v1/workspaces/${ws}/webhooks`, webhook(nestedObjects(depth))), 'too_deep');
    expectRefused(await post('/v1/organizations', nestedObjects(depth)), 'too_deep');
  });

  test('1e999999 is a 400 and nothing is stored (the same idempotency key is still free)', async () => {
    for (const n of ['1e999999', '-1e999999']) expectRefused(await post(`/v1/workspaces/${ws}/events`, event(`{"n":${n}}`, 'infinite')), 'number_out_of_range');
    expectRefused(await post('/v1/organizations', '{"name":"inf","seat_limit":1e999999}'), 'number_out_of_range');
    const ok = await post(`/v1/workspaces/${ws}/events`, event('{"n":1}', 'infinite'));
    expect(ok.status, ok.raw).toBe(202);
    expect(ok.body.duplicate).toBe(false);
  });

  test('a body 64 deep is accepted; 65 deep is refused', async () => {
    // The event body itself is one level: the payload adds the rest.
    const at64 = await post(`/v1/workspaces/${ws}/events`, event(nestedObjects(MAX_JSON_DEPTH - 1)));
    expect(at64.status, at64.raw).toBe(202);
    expectRefused(await post(`/v1/workspaces/${ws}/events`, event(nestedObjects(MAX_JSON_DEPTH))), 'too_deep');
  });

  test('key verification (its own fast path) answers a deep body with a 400 too', async () => {
    for (const payload of [`{"key":${nestedArrays(2000)}}`, `{"key":"gate_live_x","scope":${nestedObjects(5000)}}`, '{"key":1e999999}']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/keys/verify', headers: { 'content-type': 'application/json' }, payload });
      expect(res.statusCode, res.body.slice(0, 200)).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('validation_failed');
    }
  });

  test('every documented route that takes a JSON body answers a 5,000-deep body with 400 validation_failed (or 401 before reading it)', async () => {
    const doc = (await t.call(null, 'GET', '/openapi.json')).body;
    const routes: Array<[string, string]> = [];
    for (const [path, ops] of Object.entries<Record<string, { requestBody?: { content?: Record<string, unknown> } }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch'].includes(method) || !path.startsWith('/v1/')) continue;
        if (op.requestBody && !op.requestBody.content?.['application/json']) continue;
        routes.push([method.toUpperCase(), path.replace(/\{[a-z_]+\}/g, (p) => (p === '{id}' && path.startsWith('/v1/workspaces/') ? ws : 'x'))]);
      }
    }
    expect(routes.length).toBeGreaterThan(20);
    const failures: string[] = [];
    for (const [method, url] of routes) {
      const res = await post(url, nestedObjects(5000), method as 'POST');
      // A person's session routes refuse a key before the body is read: a 401, never a walk of it.
      if (url.startsWith('/v1/auth/') && res.status === 401) continue;
      if (res.status !== 400 || res.body?.error?.details?.reason !== 'too_deep') failures.push(`${method} ${url} → ${res.status} ${res.raw.slice(0, 120)}`);
    }
    expect(failures).toEqual([]);
  });
});
