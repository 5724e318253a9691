import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// The contract's error model, seen from outside: every non-2xx answer is
// `{error: {code, message, details?, request_id}}`, never a 500 for bad input, never a stack trace.

const CODE_OF_STATUS: Record<number, string[]> = {
  400: ['validation_failed'],
  401: ['unauthenticated'],
  403: ['forbidden'],
  404: ['not_found'],
  409: ['conflict'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  422: ['credential_missing', 'credential_invalid'],
  429: ['rate_limited'],
  502: ['upstream_failed'],
  503: ['unavailable'],
};

interface Res {
  status: number;
  body: any;
  headers: Record<string, unknown>;
  raw: string;
}

let t: TestApp;
let seed: Awaited<ReturnType<typeof seedWorkspace>>;

beforeAll(async () => {
  t = await createTestApp();
  seed = await seedWorkspace(t);
});
afterAll(() => t.close());

async function send(opts: InjectOptions): Promise<Res> {
  const res = await t.app.inject(opts);
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body, headers: res.headers, raw: res.body };
}

const json = (method: InjectOptions['method'], url: string, payload: string, key: string | null = t.adminKey): InjectOptions => ({
  method,
  url,
  headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  payload,
});

/** No stack frames, no source paths, no dependency paths: an error says what, never where in the code. */
function expectNoStack(raw: string) {
  expect(raw).not.toMatch(/\bat (?:\S+ \()?(?:file:\/\/)?\/?[\w./-]+\.(?:[cm]?js|ts):\d+/);
  expect(raw).not.toContain('node_modules');
  expect(raw).not.toContain(process.cwd());
  expect(raw).not.toMatch(/"stack"\s*:/);
}

/** The contract's error body, with the request id that the x-request-id header carries too. */
function expectErrorShape(res: Res) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  expect(res.body, res.raw).toBeTypeOf('object');
  expect(Object.keys(res.body)).toEqual(['error']);
  const { error } = res.body;
  expect(Object.keys(error).sort()).toEqual(expect.arrayContaining(['code', 'message', 'request_id']));
  for (const k of Object.keys(error)) expect(['code', 'message', 'details', 'request_id']).toContain(k);
  expect(error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  expect(CODE_OF_STATUS[res.status], `status ${res.status} is not one the contract lists`).toBeDefined();
  expect(CODE_OF_STATUS[res.status]).toContain(error.code);
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  if ('details' in error) {
    expect(error.details).toBeTypeOf('object');
    expect(Array.isArray(error.details)).toBe(false);
  }
  expect(error.request_id).toBe(res.headers['x-request-id']);
  expectNoStack(res.raw);
}

function expectError(res: Res, status: number, code: string) {
  expect(res.status, res.raw).toBe(status);
  expectErrorShape(res);
  expect(res.body.error.code).toBe(code);
}

describe('request bodies', () => {
  test('malformed JSON is a 400 validation_failed', async () => {
    for (const payload of ['{"name":', '{name: "x"}', "{'name':'x'}", '{"name":"x"} trailing', '\u0000', '{"a":1,}']) {
      expectError(await send(json('POST', '/v1/organizations', payload)), 400, 'validation_failed');
    }
  });

  test('an empty body with a JSON content type is a 400', async () => {
    expectError(await send(json('POST', '/v1/organizations', '')), 400, 'validation_failed');
  });

  test('prototype-poisoning keys are refused, not merged', async () => {
    const res = await send(json('POST', '/v1/organizations', '{"name":"proto","__proto__":{"platform_admin":true}}'));
    expectError(res, 400, 'validation_failed');
    const ctor = await send(json('POST', '/v1/organizations', '{"name":"ctor","constructor":{"prototype":{"x":1}}}'));
    expect(ctor.status).toBe(400);
    expectErrorShape(ctor);
  });

  test('bodies are not type-coerced: "10" where an integer belongs is a 400 naming the field', async () => {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, {
      name: 'coerce',
      scopes: ['keys:read'],
      rate_limit: { limit: '10', window_s: 60 },
    });
    expectError(res, 400, 'validation_failed');
    expect(res.body.error.details.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'body/rate_limit/limit', message: expect.any(String) })]),
    );
    // …and nothing was created by the refused request.
    const keys = await t.call(t.adminKey, 'GET', `/v1/workspaces/${seed.workspace.id}/api-keys`);
    expect(keys.body.data.map((k: { name: string }) => k.name)).not.toContain('coerce');
  });

  test.each([
    ['POST', '/v1/organizations', { name: 123 }, 'body/name'],
    ['POST', '/v1/organizations', { name: 'o', seat_limit: '5' }, 'body/seat_limit'],
    ['POST', '/v1/organizations', { name: 'o', plan: 'gold' }, 'body/plan'],
    ['POST', '/v1/users', { email: 'a@example.com', name: 'A', platform_admin: 'true' }, 'body/platform_admin'],
    ['POST', '/v1/users', { email: 'not-an-email', name: 'A' }, 'body/email'],
    ['POST', '/v1/keys/verify', { key: 42 }, 'body/key'],
    ['POST', 'WS/api-keys', { name: 'k', scopes: 'keys:read' }, 'body/scopes'],
    ['POST', 'WS/api-keys', { name: 'k', scopes: ['keys:read'], remaining: 1.5 }, 'body/remaining'],
    ['POST', 'WS/api-keys', { name: 'k', scopes: ['keys:read'], expires_at: 'tomorrow' }, 'body/expires_at'],
    ['POST', 'KEY/rotate', { grace_s: '60' }, 'body/grace_s'],
    ['PATCH', 'WS', { status: true }, 'body/status'],
  ])('%s %s with a wrong type is a 400 naming %s', async (method, path, body, issuePath) => {
    const url = path.replace('WS', `/v1/workspaces/${seed.workspace.id}`).replace('KEY', `/v1/api-keys/${seed.keyId}`);
    const res = await t.call(t.adminKey, method as 'POST', url, body);
    expectError(res, 400, 'validation_failed');
    expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(issuePath);
  });

  test('unknown fields are refused, at the top and nested, and the field is named', async () => {
    const top = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'extra', is_admin: true });
    expectError(top, 400, 'validation_failed');
    expect(top.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ property: 'is_admin' })]));

    const nested = await t.call(t.adminKey, 'POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, {
      name: 'n',
      scopes: ['keys:read'],
      rate_limit: { limit: 10, window_s: 60, burst: 100 },
    });
    expectError(nested, 400, 'validation_failed');
    expect(nested.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ property: 'burst' })]));

    const verify = await t.call(null, 'POST', '/v1/keys/verify', { key: seed.key, workspace_id: seed.workspace.id });
    expectError(verify, 400, 'validation_failed');
  });

  test('missing required fields are a 400 that names them', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/organizations', {}, 'name'],
      ['POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, { name: 'k' }, 'scopes'],
      ['POST', `/v1/workspaces/${seed.workspace.id}/members`, { user_id: 'usr_x' }, 'role'],
      ['POST', '/v1/users', { name: 'No Email' }, 'email'],
      ['POST', '/v1/keys/verify', { scope: 'keys:read' }, 'key'],
      ['POST', `/v1/organizations/${seed.org.id}/workspaces`, {}, 'name'],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await t.call(url === '/v1/keys/verify' ? null : t.adminKey, method as 'POST', url, body);
      expectError(res, 400, 'validation_failed');
      expect(JSON.stringify(res.body.error.details.issues)).toContain(field);
    }
    // A PATCH with nothing to change is refused rather than silently accepted.
    expectError(await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${seed.workspace.id}`, {}), 400, 'validation_failed');
  });

  test('a body that is not an object is a 400', async () => {
    for (const payload of ['[]', '"text"', '42', 'null', 'true']) {
      expectError(await send(json('POST', '/v1/organizations', payload)), 400, 'validation_failed');
    }
  });

  test('text PostgreSQL cannot store (NUL characters) is a 400, not a 500', async () => {
    expectError(await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'a\u0000b' }), 400, 'validation_failed');
    expectError(
      await t.call(t.adminKey, 'POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, { name: 'nul\u0000', scopes: ['keys:read'] }),
      400,
      'validation_failed',
    );
    // The verify endpoint answers every bad key with 200 valid:false, NUL or not.
    const verify = await t.call(null, 'POST', '/v1/keys/verify', { key: 'gate_live_\u0000' });
    expect(verify.status).toBe(200);
    expect(verify.body).toEqual({ valid: false, code: 'not_found' });
  });
});

describe('body limit and content type', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await createTestApp({ GATEHOUSE_BODY_LIMIT: '2048' });
  });
  afterAll(() => small.close());

  test('a body over GATEHOUSE_BODY_LIMIT is a 413 payload_too_large', async () => {
    const payload = JSON.stringify({ name: 'x'.repeat(3000) });
    const res = await small.app.inject({
      method: 'POST',
      url: '/v1/organizations',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${small.adminKey}` },
      payload,
    });
    const parsed: Res = { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers, raw: res.body };
    expectError(parsed, 413, 'payload_too_large');
    // The limit is this app's setting, not a fixed one: the default app takes the same body (and
    // refuses it only for its content: the name is longer than 200 characters).
    expectError(await send(json('POST', '/v1/organizations', payload)), 400, 'validation_failed');
  });

  test('a body under the limit is accepted', async () => {
    const res = await small.call(small.adminKey, 'POST', '/v1/organizations', { name: 'y'.repeat(200) });
    expect(res.status).toBe(201);
  });

  test('the limit applies before authentication work is wasted on it, even on public routes', async () => {
    const res = await small.app.inject({
      method: 'POST',
      url: '/v1/keys/verify',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ key: 'k'.repeat(4000) }),
    });
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
  });

  test.each(['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'image/png'])(
    'content type %s is a 415 unsupported_media_type',
    async (contentType) => {
      const res = await send({
        method: 'POST',
        url: '/v1/organizations',
        headers: { 'content-type': contentType, authorization: `Bearer ${t.adminKey}` },
        payload: '<name>x</name>',
      });
      expectError(res, 415, 'unsupported_media_type');
    },
  );

  test('a body without any content type is a 415', async () => {
    const res = await send({ method: 'POST', url: '/v1/organizations', headers: { authorization: `Bearer ${t.adminKey}` }, payload: 'name=x' });
    expectError(res, 415, 'unsupported_media_type');
  });

  test('text/plain never reaches a handler as if it were JSON', async () => {
    const res = await send({
      method: 'POST',
      url: '/v1/organizations',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${t.adminKey}` },
      payload: '{"name":"sneaky"}',
    });
    expect([400, 415]).toContain(res.status);
    expectErrorShape(res);
    const orgs = await t.call(t.adminKey, 'GET', '/v1/organizations');
    expect(orgs.body.data.map((o: { name: string }) => o.name)).not.toContain('sneaky');
  });
});

describe('routes and ids', () => {
  test('an unknown route is a 404 not_found in the contract shape, with or without a key', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['GET', '/v1/nope'],
      ['POST', '/v1/organizations/x/nope'],
      ['PUT', '/v1/organizations'],
      ['DELETE', '/v1/workspaces'],
      ['GET', '/v2/organizations'],
    ] as const) {
      expectError(await t.call(t.adminKey, method, url), 404, 'not_found');
      expectError(await t.call(null, method, url), 404, 'not_found');
    }
  });

  test('the 404 for an unknown route does not echo the query string', async () => {
    const res = await t.call(null, 'GET', '/nope?token=sekrit-value');
    expectError(res, 404, 'not_found');
    expect(res.raw).not.toContain('sekrit-value');
  });

  const GET_BY_ID = ['/v1/organizations/:id', '/v1/workspaces/:id', '/v1/workspaces/:id/members', '/v1/workspaces/:id/api-keys', '/v1/api-keys/:id', '/v1/api-keys/:id/usage'];

  test.each(GET_BY_ID)('GET %s with a well-formed unknown id is a 404', async (route) => {
    for (const id of ['org_01hzzzzzzzzzzzzzzzzzzzzzzz', 'ws_01hzzzzzzzzzzzzzzzzzzzzzzz', 'key_01hzzzzzzzzzzzzzzzzzzzzzzz', 'x']) {
      expectError(await t.call(t.adminKey, 'GET', route.replace(':id', id)), 404, 'not_found');
    }
  });

  const ODD_IDS = [
    'a'.repeat(65), // one over the schema's limit
    'a'.repeat(5000), // far over the router's own limit
    encodeURIComponent('ワークスペース🙂'),
    encodeURIComponent('../../etc/passwd'),
    '..%2F..%2F',
    '%2e%2e',
    '%00',
    'a%00b',
    '%C0%AE', // an overlong UTF-8 encoding of '.'
    '%ff',
    '%', // not a valid percent escape at all
    '%E0%A4%A',
    encodeURIComponent("'; DROP TABLE workspaces; --"),
    encodeURIComponent('{"$ne":null}'),
    '%20',
    encodeURIComponent('\ud83d\ude00\u202e'),
  ];

  test.each(GET_BY_ID)('GET %s with odd ids answers 400 or 404, never 500', async (route) => {
    for (const id of ODD_IDS) {
      const res = await t.call(t.adminKey, 'GET', route.replace(':id', id));
      expect([400, 404], `${id.slice(0, 40)} → ${res.status} ${res.raw.slice(0, 200)}`).toContain(res.status);
      expectErrorShape(res);
    }
  });

  test('odd ids on mutating routes answer 400 or 404 and change nothing', async () => {
    for (const id of ODD_IDS) {
      for (const [method, route, body] of [
        ['DELETE', '/v1/api-keys/:id', undefined],
        ['POST', '/v1/api-keys/:id/rotate', { grace_s: 0 }],
        ['PATCH', '/v1/workspaces/:id', { name: 'renamed' }],
        ['POST', '/v1/organizations/:id/workspaces', { name: 'w' }],
        ['POST', '/v1/workspaces/:id/api-keys', { name: 'k', scopes: ['keys:read'] }],
      ] as const) {
        const res = await t.call(t.adminKey, method, route.replace(':id', id), body);
        expect([400, 404], `${method} ${id.slice(0, 40)} → ${res.status} ${res.raw.slice(0, 200)}`).toContain(res.status);
        expectErrorShape(res);
      }
    }
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${seed.workspace.id}`)).body.name).toBe(seed.workspace.name);
  });

  test('odd query values answer 400 or 200, never 500', async () => {
    for (const q of [
      'organization_id=%00',
      'organization_id=' + 'o'.repeat(100),
      'organization_id=%ff',
    ]) {
      const res = await t.call(t.adminKey, 'GET', `/v1/workspaces?${q}`);
      expect([200, 400], `${q} → ${res.raw.slice(0, 200)}`).toContain(res.status);
      if (res.status !== 200) expectErrorShape(res);
    }
    for (const q of [
      'actor=%00',
      'action=a%00b',
      'workspace_id=%00',
      'from=2030-06-30T23:59:60Z', // a leap second: the date-time format allows it, Date does not
      'to=not-a-date',
      'from=2024-02-30T00:00:00Z',
      'cursor=-1',
      'cursor=99999999999999999999',
      'limit=0',
      'limit=abc',
      'format=xml',
    ]) {
      const res = await t.call(t.adminKey, 'GET', `/v1/audit?${q}`);
      expect([200, 400], `${q} → ${res.raw.slice(0, 200)}`).toContain(res.status);
      if (res.status !== 200) expectErrorShape(res);
    }
    expectError(await t.call(t.adminKey, 'GET', `/v1/api-keys/${seed.keyId}/usage?days=0`), 400, 'validation_failed');
    expectError(await t.call(t.adminKey, 'GET', `/v1/api-keys/${seed.keyId}/usage?days=ten`), 400, 'validation_failed');
  });
});

describe('authentication errors', () => {
  test('no key, a malformed header and a made-up key are 401 unauthenticated with WWW-Authenticate', async () => {
    const cases: InjectOptions[] = [
      { method: 'GET', url: '/v1/organizations' },
      { method: 'GET', url: '/v1/organizations', headers: { authorization: 'Basic dXNlcjpwYXNz' } },
      { method: 'GET', url: '/v1/organizations', headers: { authorization: 'Bearer' } },
      { method: 'GET', url: '/v1/organizations', headers: { authorization: `Bearer ${'gate_live_'.padEnd(59, 'A')}` } },
      // The last character changed (to another one: a key ending in x would otherwise stay itself).
      { method: 'GET', url: '/v1/organizations', headers: { authorization: `Bearer ${t.adminKey.slice(0, -1)}${t.adminKey.endsWith('x') ? 'y' : 'x'}` } },
    ];
    for (const c of cases) {
      const res = await send(c);
      expectError(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.raw).not.toContain(t.adminKey.slice(0, 40));
    }
  });

  test('a workspace key without the scope is a 403 forbidden naming the scope it lacks', async () => {
    const narrow = await seedWorkspace(t, ['keys:read']);
    const res = await t.call(narrow.key, 'PATCH', `/v1/workspaces/${narrow.workspace.id}`, { name: 'x' });
    expectError(res, 403, 'forbidden');
    expect(res.body.error.details).toMatchObject({ required_scope: 'workspaces:write' });
    expect(res.raw).not.toContain(narrow.key);
  });

  test('a client-chosen request id is echoed when well-formed and replaced when not', async () => {
    const ok = await send({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'client-trace.42' } });
    expect(ok.body.error.request_id).toBe('client-trace.42');
    const bad = await send({ method: 'GET', url: '/nope', headers: { 'x-request-id': '<script>alert(1)</script>' } });
    expect(bad.body.error.request_id).toMatch(/^req_/);
    expect(bad.raw).not.toContain('<script>');
  });
});

describe('internal errors', () => {
  test('an unexpected exception is a 500 `internal` with the request id, the stack only in the log', async () => {
    // A second app on the same services, with one route that fails the way a bug would.
    const app = await buildApp(t.services);
    app.get('/boom', { config: { public: true } }, async () => {
      throw new Error('kaboom at /srv/gatehouse/src/secret-place.ts:12 password=hunter2');
    });
    await app.ready();
    try {
      const res = await app.inject({ method: 'GET', url: '/boom' });
      const parsed: Res = { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers, raw: res.body };
      expect(parsed.status).toBe(500);
      expect(parsed.body.error.code).toBe('internal');
      expect(parsed.body.error.request_id).toBe(res.headers['x-request-id']);
      expectNoStack(parsed.raw);
      expect(parsed.raw).not.toContain('kaboom');
      expect(parsed.raw).not.toContain('hunter2');
      // The operator can still find it: the log line carries the request id and the message.
      const line = t.logs.find((l) => l.includes(parsed.body.error.request_id) && l.includes('unhandled error'));
      expect(line).toBeDefined();
      expect(line).toContain('kaboom');
    } finally {
      await app.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: every documented POST/PATCH route gets arbitrary and mutated bodies; every GET route gets
// arbitrary ids and query values. Whatever comes in, the answer is < 500, in the contract shape,
// without a stack, and never holds the caller's key.

interface Operation {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  queryParams: string[];
}

/** Valid bodies to mutate, by route; routes not listed here are fuzzed from `{}`. */
function validBodies(): Record<string, Record<string, unknown>> {
  return {
    'POST /v1/organizations': { name: 'fuzz org', plan: 'starter', seat_limit: 5 },
    'POST /v1/organizations/{id}/workspaces': { name: 'fuzz ws' },
    'PATCH /v1/workspaces/{id}': { name: 'fuzz renamed' },
    'POST /v1/users': { email: 'fuzz@example.com', name: 'Fuzz', password: 'correct horse battery' },
    'POST /v1/workspaces/{id}/members': { user_id: 'usr_01hzzzzzzzzzzzzzzzzzzzzzzz', role: 'member' },
    'POST /v1/workspaces/{id}/api-keys': {
      name: 'fuzz key',
      scopes: ['keys:read'],
      expires_at: '2099-01-01T00:00:00Z',
      rate_limit: { limit: 10, window_s: 60 },
      remaining: 5,
      ip_allowlist: ['10.0.0.0/8'],
    },
    'POST /v1/api-keys/{id}/rotate': { grace_s: 60 },
    'POST /v1/keys/verify': { key: seed.key, scope: 'keys:read' },
    'POST /v1/workspaces/{id}/webhooks': {
      url: 'https://hooks.example.com/in',
      events: ['lead.*'],
      name: 'fuzz',
      timeout_s: 10,
      max_retries: 2,
      headers: { 'x-route': 'a' },
      auth_token: 'fuzz-token-0123456789',
    },
    'POST /v1/workspaces/{id}/events': { type: 'lead.created', payload: { a: 1 }, idempotency_key: 'k', broadcast: true },
    'POST /v1/workspaces/{id}/event-types': { name: 'fuzz.happened', description: 'x' },
  };
}

// Strings of every kind: control characters, NUL, lone surrogates, emoji, very long.
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.constantFrom('', '\u0000', '../../', '%00', '2030-06-30T23:59:60Z', 'gate_live_', '*', 'a'.repeat(10_000)),
);
const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' });
const anyValue = fc.oneof(anyJson, anyString, fc.integer(), fc.double(), fc.constant(null), fc.boolean());

/** A valid body with one change: a field removed, replaced with anything, or an extra field added. */
function mutated(valid: Record<string, unknown>) {
  const keys = Object.keys(valid);
  return fc.oneof(
    keys.length ? fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))) : fc.constant({}),
    keys.length ? fc.tuple(fc.constantFrom(...keys), anyValue).map(([k, v]) => ({ ...valid, [k]: v })) : fc.constant({}),
    fc.tuple(anyString, anyValue).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.dictionary(fc.constantFrom(...keys, 'extra'), anyValue).map((d) => ({ ...valid, ...d })),
    // A string field that stays valid in shape but carries characters a database may choke on.
    fc.tuple(fc.constantFrom(...keys, 'extra'), fc.constantFrom('\u0000', '\ud800', '\u202e', '🙂', "'", '\\')).map(([k, c]) => ({
      ...valid,
      [k]: typeof valid[k] === 'string' ? `${valid[k]}${c}` : c,
    })),
  );
}

/** JSON text: arbitrary values, mutated valid bodies, and raw text that may not parse at all. */
function bodyText(valid: Record<string, unknown>) {
  return fc.oneof(
    { weight: 3, arbitrary: mutated(valid).map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 2, arbitrary: fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'undefined') },
    { weight: 1, arbitrary: fc.tuple(fc.json({ maxDepth: 2 }), fc.nat(), anyString).map(([j, i, s]) => j.slice(0, i % (j.length + 1)) + s) },
  );
}

const rawSegment = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map((s) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return '%ff'; // lone surrogates cannot be encoded; send a bad escape instead
    }
  }),
  fc.stringMatching(/^[A-Za-z0-9_%.~-]{1,120}$/), // raw, so '%' may begin a broken escape
  fc.constantFrom('%00', '..', '%2e%2e%2f', 'a'.repeat(200), '%E0%A4%A', '%'),
);

function expectSafe(res: Res, key: string, what: string) {
  expect(res.status, `${what} → ${res.status} ${res.raw.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) expectErrorShape(res);
  else expectNoStack(res.raw);
  expect(res.raw).not.toContain(key);
}

describe('fuzz', () => {
  let operations: Operation[];
  let ids: Record<string, string>;

  beforeAll(async () => {
    const doc = (await t.call(null, 'GET', '/openapi.json')).body;
    operations = [];
    for (const [path, ops] of Object.entries<Record<string, { parameters?: { in: string; name: string }[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const m = method.toUpperCase();
        if (m !== 'GET' && m !== 'POST' && m !== 'PATCH') continue;
        operations.push({ method: m, path, queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) });
      }
    }
    // Real ids, so mutated bodies reach the service and not only the 404: a key of its own, since
    // rotating it is part of the fuzz.
    const own = await t.call(t.adminKey, 'POST', `/v1/workspaces/${seed.workspace.id}/api-keys`, { name: 'fuzz target', scopes: ['keys:read'] });
    ids = { organizations: seed.org.id, workspaces: seed.workspace.id, 'api-keys': own.body.id };
  });

  const withIds = (path: string) => path.replace(/\/([a-z-]+)\/\{id\}/g, (_, collection: string) => `/${collection}/${ids[collection] ?? 'unknown'}`);

  test('the document lists the routes this fuzz is meant to cover', () => {
    const listed = operations.map((o) => `${o.method} ${o.path}`);
    expect(listed).toEqual(expect.arrayContaining(Object.keys(validBodies())));
    expect(listed).toEqual(expect.arrayContaining(['GET /v1/workspaces/{id}', 'GET /v1/api-keys/{id}/usage', 'GET /v1/audit']));
  });

  test('arbitrary bodies on every POST and PATCH route: < 500, error shape, no stack, no key', async () => {
    const writes = operations.filter((o) => o.method !== 'GET');
    expect(writes.length).toBeGreaterThanOrEqual(8);
    const bodies = validBodies();
    for (const op of writes) {
      const url = withIds(op.path);
      await fc.assert(
        fc.asyncProperty(bodyText(bodies[`${op.method} ${op.path}`] ?? {}), async (payload) => {
          const res = await send(json(op.method, url, payload));
          expectSafe(res, t.adminKey, `${op.method} ${url} ${payload.slice(0, 200)}`);
        }),
        { numRuns: 50 },
      );
    }
  });

  test('arbitrary ids and query values on every GET route: < 500, error shape, no stack, no key', async () => {
    const reads = operations.filter((o) => o.method === 'GET' && o.path.startsWith('/v1/'));
    expect(reads.length).toBeGreaterThanOrEqual(10);
    for (const op of reads) {
      const query = op.queryParams.length
        ? fc.array(fc.tuple(fc.constantFrom(...op.queryParams), fc.oneof(rawSegment, fc.constantFrom('2030-06-30T23:59:60Z', '2024-01-01T00:00:00Z', '-1', '0', '1e3')))).map(
            (pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'),
          )
        : fc.constant('');
      await fc.assert(
        fc.asyncProperty(rawSegment, query, async (id, qs) => {
          const url = `${op.path.replace('{id}', id)}${qs ? `?${qs}` : ''}`;
          const res = await send({ method: 'GET', url, headers: { authorization: `Bearer ${t.adminKey}` } });
          expectSafe(res, t.adminKey, `GET ${url.slice(0, 200)}`);
        }),
        { numRuns: 50 },
      );
    }
  });
});
