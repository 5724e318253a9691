import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CachedKey } from '../../src/modules/apikeys/cache.js';
import type { Verification } from '../../src/modules/apikeys/verify.js';
import { verificationBody, verificationText } from '../../src/modules/apikeys/verify-http.js';
import { generateKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// POST /v1/keys/verify is answered by a fast path beside Fastify on the real HTTP server, while
// app.inject (every other test) reaches only the Fastify route. Both must answer alike: each body
// below goes both ways and the status, JSON and headers are compared.
let t: TestApp;
let base: string;
let key: string;
let revoked: string;
let workspaceId: string;

beforeAll(async () => {
  t = await createTestApp();
  const seed = await seedWorkspace(t, ['keys:read']);
  key = seed.key;
  workspaceId = seed.workspace.id;
  const other = await t.call(t.adminKey, 'POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, { name: 'to revoke', scopes: ['keys:read'] });
  revoked = other.body.key;
  await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${other.body.id}`);
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => t?.close());

async function overHttp(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await request(`${base}/v1/keys/verify`, { method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}
async function viaFastify(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/keys/verify', headers, payload: body });
  return { status: res.statusCode, headers: res.headers, text: res.body };
}
// Request ids differ per request; everything else must not.
const sameBytes = (text: string) => text.replace(/"request_id":"[^"]*"/, '"request_id":"-"');

// Headers that belong to the connection or differ by nature (a fresh request id), not to the answer.
const TRANSPORT = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'x-request-id']);
const answerHeaders = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => !TRANSPORT.has(k.toLowerCase())).sort());

describe('the fast path answers exactly as the Fastify route', () => {
  const cases: Array<[string, () => string]> = [
    ['a valid key', () => JSON.stringify({ key })],
    ['a valid key with a granted scope', () => JSON.stringify({ key, scope: 'keys:read' })],
    ['a valid key without the scope', () => JSON.stringify({ key, scope: 'keys:write' })],
    ['a revoked key', () => JSON.stringify({ key: revoked })],
    ['a made-up key', () => JSON.stringify({ key: generateKey() })],
    ['an end-client ip', () => JSON.stringify({ key, ip: '203.0.113.9' })],
    ['a wrong type', () => JSON.stringify({ key: 42 })],
    ['a missing key', () => JSON.stringify({ scope: 'keys:read' })],
    ['an unknown property', () => JSON.stringify({ key, workspace_id: 'ws_1' })],
    ['an oversized key', () => JSON.stringify({ key: 'x'.repeat(513) })],
    ['not an object', () => '[1,2]'],
    ['a string', () => '"gate_live_x"'],
    ['broken JSON', () => '{"key": '],
    ['a prototype-poisoning body', () => '{"key": "k", "__proto__": {"x": 1}}'],
    ['a NUL in the key', () => JSON.stringify({ key: 'gate_live_\u0000' })],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const [fast, slow] = await Promise.all([overHttp(body()), viaFastify(body())]);
      expect(fast.status, fast.text).toBe(slow.status);
      // One serializer for both: the same bytes, but for the request id.
      expect(sameBytes(fast.text)).toBe(sameBytes(slow.text));
      expect(fast.headers['content-type']).toBe(slow.headers['content-type']);
      expect(fast.headers['x-request-id']).toMatch(/^req_[0-9a-z]{26}$/);
      // Every other header alike, names and values (the fast path once missed nosniff).
      expect(answerHeaders(fast.headers)).toEqual(answerHeaders(slow.headers));
    });
  }

  test('a client that accepts compression gets the same uncompressed answer both ways, a large one too', async () => {
    const headers = { 'content-type': 'application/json', 'accept-encoding': 'gzip, deflate, br' };
    // An unknown property is named in the error, so this answer is past the 1 KB where compression starts.
    for (const body of [JSON.stringify({ key }), JSON.stringify({ key, ['p'.repeat(1500)]: 1 })]) {
      const [fast, slow] = await Promise.all([overHttp(body, headers), viaFastify(body, headers)]);
      expect(slow.headers['content-encoding']).toBeUndefined();
      expect(sameBytes(fast.text)).toBe(sameBytes(slow.text));
      expect(answerHeaders(fast.headers)).toEqual(answerHeaders(slow.headers));
    }
  });

  test("a caller's X-Request-Id is echoed back, and in the error body", async () => {
    const res = await overHttp('{"key": 1}', { 'content-type': 'application/json', 'x-request-id': 'trace-123' });
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(JSON.parse(res.text).error.request_id).toBe('trace-123');
  });

  test('what the fast path declines still works through Fastify: charset variants, other types, empty bodies', async () => {
    expect((await overHttp(JSON.stringify({ key }), { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    const plain = await overHttp(JSON.stringify({ key }), { 'content-type': 'text/plain' });
    expect(plain.status).toBeGreaterThanOrEqual(400);
    expect(plain.status).toBeLessThan(500);
    expect(JSON.parse(plain.text).error.code).toBeTruthy();
    const empty = await overHttp('', { 'content-type': 'application/json' });
    expect(empty.status).toBe(400);
  });

  test('a rate-limited or usage-limited key reaches its counter through the fast path too', async () => {
    const create = async (extra: object) =>
      (await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'limited', scopes: ['keys:read'], ...extra })).body.key;
    const limited = await create({ rate_limit: { limit: 2, window_s: 60 } });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(JSON.parse((await overHttp(JSON.stringify({ key: limited }))).text));
    expect(answers.map((a) => a.ratelimit?.remaining)).toEqual([1, 0, undefined]); // a refusal holds only {valid, code}
    expect(answers.map((a) => a.code)).toEqual(['valid', 'valid', 'rate_limited']);
    const once = await create({ remaining: 1 });
    const uses = [];
    for (let i = 0; i < 2; i++) uses.push(JSON.parse((await overHttp(JSON.stringify({ key: once }))).text).code);
    expect(uses).toEqual(['valid', 'usage_exceeded']);
  });

  test('verifications through the fast path are counted in /metrics under the route', async () => {
    await overHttp(JSON.stringify({ key }));
    const metrics = await t.call(null, 'GET', '/metrics');
    expect(metrics.raw).toMatch(/gatehouse_http_request_duration_seconds_count\{method="POST",route="\/v1\/keys\/verify",status="200"\} [1-9]/);
    expect(metrics.raw).toMatch(/gatehouse_key_verifications_total\{result="valid"\} [1-9]/);
  });
});

describe('the fast path\'s answer text', () => {
  const key = { id: 'key_1', workspaceId: 'ws_1', scopes: ['keys:read', 'webhooks:*'] } as unknown as CachedKey;
  const cases: Array<[string, Verification]> = [
    ['valid, no rate limit', { code: 'valid', key }],
    ['valid, rate limited key', { code: 'valid', key, ratelimit: { allowed: true, limit: 100, remaining: 99, reset: 1_790_000_000_000 } }],
    ['valid again, other figures (the cached prefix)', { code: 'valid', key, ratelimit: { allowed: true, limit: 100, remaining: 3, reset: 1_790_000_060_000 } }],
    ['valid, a platform key (no workspace)', { code: 'valid', key: { ...key, workspaceId: null } as unknown as CachedKey }],
    ['revoked', { code: 'revoked', key }],
    ['not found', { code: 'not_found' }],
  ];
  test.each(cases)('%s: byte for byte what JSON.stringify of the route\'s body gives', (_name, result) => {
    expect(verificationText(result)).toBe(JSON.stringify(verificationBody(result)));
  });
});
