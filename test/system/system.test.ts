import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger, redactSecrets } from '../../src/lib/logger.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('health', () => {
  test('GET /healthz answers 200 without a key', async () => {
    const res = await t.call(null, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('GET /readyz answers 200 with the kind of database it checked', async () => {
    const res = await t.call(null, 'GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', database: TEST_DB });
  });

  test('GET /readyz answers 503 unavailable with Retry-After once the database is gone; /healthz stays 200', async () => {
    const down = await createTestApp();
    const close = down.services.database.close;
    try {
      await close();
      // The helper's teardown closes the database again; once is all a pool allows.
      down.services.database.close = async () => {};
      const res = await down.call(null, 'GET', '/readyz');
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'unavailable', message: expect.any(String) });
      expect(res.body.error.request_id).toBe(res.headers['x-request-id']);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.raw).not.toMatch(/node_modules|\bat .+\.[jt]s:\d+/);
      // Liveness is about the process, not its dependencies: an orchestrator must not restart it.
      expect((await down.call(null, 'GET', '/healthz')).status).toBe(200);
    } finally {
      // Not down.close(): its services would unsubscribe from a database that is already closed.
      await down.app.close();
      await down.services.close().catch(() => {});
      await down.db.drop();
    }
  });
});

/** `name{labels} value` lines of the Prometheus text format. */
function samples(text: string) {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`not a Prometheus sample line: ${l}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

async function metricValue(name: string, labels: Record<string, string>) {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  const found = samples(res.body).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

describe('metrics', () => {
  test('GET /metrics is the Prometheus text format, with process metrics', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(() => samples(res.body)).not.toThrow();
    expect(res.body).toContain('# TYPE gatehouse_http_request_duration_seconds histogram');
    expect(res.body).toMatch(/^gatehouse_process_\w+ /m);
  });

  test('key verifications are counted by result, exactly once per check', async () => {
    const validBefore = await metricValue('gatehouse_key_verifications_total', { result: 'valid' });
    const missingBefore = await metricValue('gatehouse_key_verifications_total', { result: 'not_found' });
    for (let i = 0; i < 3; i++) expect((await t.call(t.adminKey, 'GET', '/v1/organizations')).status).toBe(200);
    // A made-up key is checked (and counted); a request without any key has nothing to check.
    expect((await t.call(`gate_live_${'1'.repeat(49)}`, 'GET', '/v1/organizations')).status).toBe(401);
    expect((await t.call(null, 'GET', '/v1/organizations')).status).toBe(401);
    expect((await t.call(null, 'POST', '/v1/keys/verify', { key: `gate_live_${'0'.repeat(49)}` })).body.code).toBe('not_found');
    expect((await t.call(null, 'POST', '/v1/keys/verify', { key: t.adminKey })).body.code).toBe('valid');
    expect(await metricValue('gatehouse_key_verifications_total', { result: 'valid' })).toBe(validBefore + 4);
    expect(await metricValue('gatehouse_key_verifications_total', { result: 'not_found' })).toBe(missingBefore + 2);
  });

  test('request durations are recorded per route template and status, never per raw URL', async () => {
    const seeded = await seedWorkspace(t);
    const labels = { method: 'GET', route: '/v1/workspaces/:id', status: '200' };
    const before = await metricValue('gatehouse_http_request_duration_seconds_count', labels);
    await t.call(t.adminKey, 'GET', `/v1/workspaces/${seeded.workspace.id}`);
    await t.call(t.adminKey, 'GET', `/v1/workspaces/${seeded.workspace.id}`);
    expect(await metricValue('gatehouse_http_request_duration_seconds_count', labels)).toBe(before + 2);
    await t.call(null, 'GET', '/no-such-route-abc');
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^gatehouse_http_request_duration_seconds_bucket\{.*le="0\.1".*\} \d+$/m);
    // Ids and unknown paths would make a label per request: the cardinality must stay bounded.
    expect(text).not.toContain(seeded.workspace.id);
    expect(text).not.toContain('no-such-route-abc');
    expect(samples(text).some((s) => s.name === 'gatehouse_http_request_duration_seconds_count' && s.labels.route === 'unmatched' && s.labels.status === '404')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

const CONTRACT: [method: string, path: string, success: number][] = [
  ['post', '/v1/organizations', 201],
  ['get', '/v1/organizations', 200],
  ['get', '/v1/organizations/{id}', 200],
  ['post', '/v1/organizations/{id}/workspaces', 201],
  ['get', '/v1/workspaces', 200],
  ['get', '/v1/workspaces/{id}', 200],
  ['patch', '/v1/workspaces/{id}', 200],
  ['post', '/v1/users', 201],
  ['post', '/v1/workspaces/{id}/members', 201],
  ['get', '/v1/workspaces/{id}/members', 200],
  ['post', '/v1/workspaces/{id}/api-keys', 201],
  ['get', '/v1/workspaces/{id}/api-keys', 200],
  ['get', '/v1/api-keys/{id}', 200],
  ['delete', '/v1/api-keys/{id}', 200],
  ['post', '/v1/api-keys/{id}/rotate', 201],
  ['get', '/v1/api-keys/{id}/usage', 200],
  ['post', '/v1/keys/verify', 200],
  ['get', '/v1/audit', 200],
  ['get', '/v1/audit/verify', 200],
  ['post', '/v1/audit/checkpoints', 201],
  ['get', '/v1/audit/checkpoints', 200],
];

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, any>>;
  components?: Record<string, Record<string, unknown>>;
};

describe('OpenAPI', () => {
  let doc: Doc;
  beforeAll(async () => {
    const res = await t.call(null, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body;
  });

  test('is a structurally valid OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path).toMatch(/^\//);
      expect(path, 'path parameters are written {name}, not :name').not.toContain(':');
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        expect(methods.has(method), `${method} ${path}`).toBe(true);
        const pathParams = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path');
        expect(pathParams.map((p: { name: string }) => p.name).sort(), `${method} ${path}`).toEqual([...templated].sort());
        for (const p of pathParams) expect(p.required).toBe(true);
        for (const p of op.parameters ?? []) expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} has no responses`).toBeGreaterThan(0);
        for (const [status, response] of Object.entries<any>(op.responses)) {
          expect(status).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(typeof response.description, `${method} ${path} ${status} needs a description`).toBe('string');
        }
        for (const requirement of op.security ?? []) for (const name of Object.keys(requirement)) expect(schemes).toContain(name);
      }
    }
    // Every $ref points at something the document defines.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\//);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<any>((node, part) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
      expect(target, `unresolved ${ref}`).toBeDefined();
    }
    expect(doc.components?.schemas?.ErrorBody).toBeDefined();
  });

  test('lists every contract path of the tenancy, key and audit API', () => {
    const missing = CONTRACT.filter(([method, path]) => !doc.paths[path]?.[method]).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    expect(missing).toEqual([]);
    expect(doc.paths['/healthz']?.get).toBeDefined();
    expect(doc.paths['/readyz']?.get).toBeDefined();
  });

  test.each(CONTRACT)('%s %s documents its success status and its error statuses as ErrorBody', (method, path, success) => {
    const responses = doc.paths[path][method].responses as Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
    expect(Object.keys(responses)).toContain(String(success));
    const publicRoute = path === '/v1/keys/verify';
    const expected = publicRoute ? ['400'] : ['400', '401', '403', '429', '503', ...(path.includes('{id}') ? ['404'] : [])];
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(expected));
    for (const [status, response] of Object.entries(responses)) {
      if (Number(status) < 400) continue;
      expect(response.content?.['application/json']?.schema?.$ref, `${method} ${path} ${status}`).toMatch(/ErrorBody$/);
    }
    if (!publicRoute) expect(doc.paths[path][method].security).toEqual([{ bearer: [] }]);
  });

  test('/readyz documents its 503', () => {
    expect(Object.keys(doc.paths['/readyz'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
  });

  test('every status the routes really answer to ordinary probes is one the document lists', async () => {
    const a = await seedWorkspace(t);
    const narrow = await seedWorkspace(t, ['keys:read']);
    const user = await t.call(t.adminKey, 'POST', '/v1/users', { email: `probe-${Date.now()}@example.com`, name: 'Probe' });
    const rotatable = await t.call(t.adminKey, 'POST', `/v1/workspaces/${a.workspace.id}/api-keys`, { name: 'r', scopes: ['keys:read'] });
    const revocable = await t.call(t.adminKey, 'POST', `/v1/workspaces/${a.workspace.id}/api-keys`, { name: 'd', scopes: ['keys:read'] });
    const idFor = (path: string, own: boolean) => {
      if (!own) return 'zz_unknown';
      if (path.startsWith('/v1/organizations/')) return a.org.id;
      if (path.startsWith('/v1/workspaces/')) return a.workspace.id;
      if (path.endsWith('/rotate')) return rotatable.body.id;
      if (path === '/v1/api-keys/{id}') return revocable.body.id;
      return a.keyId;
    };
    const goodBody: Record<string, unknown> = {
      'post /v1/organizations': { name: 'probe org' },
      'post /v1/organizations/{id}/workspaces': { name: `probe ws ${Date.now()}` },
      'patch /v1/workspaces/{id}': { name: 'probe renamed' },
      'post /v1/users': { email: `probe2-${Date.now()}@example.com`, name: 'Probe Two' },
      'post /v1/workspaces/{id}/members': { user_id: user.body.id, role: 'member' },
      'post /v1/workspaces/{id}/api-keys': { name: 'probe', scopes: ['keys:read'] },
      'post /v1/api-keys/{id}/rotate': { grace_s: 60 },
      'post /v1/keys/verify': { key: a.key },
    };
    const problems: string[] = [];
    for (const [method, path] of CONTRACT) {
      const documented = Object.keys(doc.paths[path][method].responses);
      const op = `${method} ${path}`;
      const body = goodBody[op];
      const withBody = method === 'post' || method === 'patch';
      const probes: [string | null, string, unknown][] = [
        [t.adminKey, path.replace('{id}', idFor(path, true)), body], // the happy path
        [t.adminKey, path.replace('{id}', idFor(path, false)), body], // unknown id
        [null, path.replace('{id}', idFor(path, true)), body], // no key
        [narrow.key, path.replace('{id}', idFor(path, true)), body], // a key of another workspace, narrow scopes
      ];
      if (withBody) probes.push([t.adminKey, path.replace('{id}', idFor(path, true)), { unexpected_field: 1 }]); // bad body
      for (const [key, url, payload] of probes) {
        const res = await t.call(key, method.toUpperCase() as 'GET', url, withBody ? payload : undefined);
        if (!documented.includes(String(res.status))) problems.push(`${op} answered ${res.status}, documents ${documented.join(',')}`);
        if (res.status >= 500) problems.push(`${op} answered ${res.status}: ${res.raw.slice(0, 200)}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('docs', () => {
  test('GET /docs serves the interactive API reference as HTML', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
      res = await t.app.inject({ method: 'GET', url: new URL(String(res.headers.location), 'http://x/docs/').pathname });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.body.toLowerCase()).toContain('swagger');
  });
});

// ---------------------------------------------------------------------------------------------

describe('log redaction', () => {
  test('credentials sent in headers and bodies never reach the logs, whatever the outcome', async () => {
    const password = 'Pa55word-never-logged-7f3a';
    const secret = 'whsec_never-logged-9c1d';
    const apiToken = 'tok_never-logged-2b8e';
    const bogusKey = `gate_live_${'Zz'.repeat(24)}Z`;
    const before = t.logs.length;
    // Accepted (password is a real field), refused for unknown fields, and refused at the door.
    const created = await t.call(t.adminKey, 'POST', '/v1/users', { email: `redact-${Date.now()}@example.com`, name: 'R', password });
    expect(created.status).toBe(201);
    const refused = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'r2@example.com', name: 'R', password, secret, api_token: apiToken });
    expect(refused.status).toBe(400);
    const unauth = await t.app.inject({
      method: 'POST',
      url: '/v1/organizations',
      headers: { authorization: `Bearer ${bogusKey}`, 'content-type': 'application/json', cookie: `session=${apiToken}` },
      payload: JSON.stringify({ name: 'x', secret }),
    });
    expect(unauth.statusCode).toBe(401);
    expect((await t.call(null, 'POST', '/v1/keys/verify', { key: t.adminKey })).body.valid).toBe(true);
    // Something was logged for these requests at debug level, so the absence below means something.
    const written = t.logs.slice(before).join('');
    expect(written.length).toBeGreaterThan(0);
    for (const value of [password, secret, apiToken, bogusKey, t.adminKey]) {
      expect(written).not.toContain(value);
      expect(t.logs.join('')).not.toContain(value);
    }
    // Nor the audit trail: the user's record holds no password.
    const audit = await t.call(t.adminKey, 'GET', '/v1/audit?action=user.created');
    expect(audit.status).toBe(200);
    expect(audit.raw).not.toContain(password);
  });

  test('the service logger masks credential-named fields wherever they sit in a log line', () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    log.info(
      {
        headers: { authorization: 'Bearer gate_live_in_a_header', 'x-api-key': 'hdr-key-value' },
        body: { password: 'pw-value', nested: [{ client_secret: 'cs-value' }], api_token: 'tok-value' },
        key_id: 'key_01keepme',
      },
      'request seen',
    );
    const out = lines.join('');
    for (const v of ['gate_live_in_a_header', 'hdr-key-value', 'pw-value', 'cs-value', 'tok-value']) expect(out).not.toContain(v);
    expect(out).toContain('key_01keepme');
    expect(out).toContain('request seen');
  });
});

describe('redactSecrets', () => {
  test('masks credential-named fields and keeps the rest', () => {
    expect(
      redactSecrets({ user: 'ann', password: 'p', api_key: 'k', secret: 's', token: 't', Authorization: 'a', cookie: 'c', signature: 'sig' }),
    ).toEqual({
      user: 'ann',
      password: '[redacted]',
      api_key: '[redacted]',
      secret: '[redacted]',
      token: '[redacted]',
      Authorization: '[redacted]',
      cookie: '[redacted]',
      signature: '[redacted]',
    });
  });

  test('names are matched case-insensitively and as parts of longer names', () => {
    expect(redactSecrets({ clientSecret: 'x', ACCESS_TOKEN: 'y', webhookSigningKey: 'z', userPassword: 'w' })).toEqual({
      clientSecret: '[redacted]',
      ACCESS_TOKEN: '[redacted]',
      webhookSigningKey: '[redacted]',
      userPassword: '[redacted]',
    });
  });

  test('walks nested objects and arrays', () => {
    const input = {
      a: { b: { c: { password: 'deep', d: 1 } } },
      list: [{ secret: 's1' }, { ok: true, inner: [{ api_token: 't1' }] }, 'plain', 3],
    };
    expect(redactSecrets(input)).toEqual({
      a: { b: { c: { password: '[redacted]', d: 1 } } },
      list: [{ secret: '[redacted]' }, { ok: true, inner: [{ api_token: '[redacted]' }] }, 'plain', 3],
    });
    // A top-level array is walked too.
    expect(redactSecrets([{ token: 'x' }])).toEqual([{ token: '[redacted]' }]);
  });

  test('masks a whole object held under a secret name, not only strings', () => {
    expect(redactSecrets({ credentials: { x: 1 }, secret: { value: 'v' }, tokens: ['a', 'b'] })).toEqual({
      credentials: { x: 1 },
      secret: '[redacted]',
      tokens: '[redacted]',
    });
  });

  test('keeps ids whose names merely contain "key"', () => {
    const ids = { key_id: 'key_1', keyId: 'key_2', api_key_id: 'key_3', idempotency_key: 'idem_4', unique_key: 'u_5' };
    expect(redactSecrets(ids)).toEqual(ids);
    expect(redactSecrets({ nested: [{ key_id: 'key_9', key: 'gate_live_x' }] })).toEqual({ nested: [{ key_id: 'key_9', key: '[redacted]' }] });
  });

  test('leaves null and undefined values as they are, and scalars untouched', () => {
    expect(redactSecrets({ password: null, token: undefined })).toEqual({ password: null, token: undefined });
    expect(redactSecrets('password')).toBe('password');
    expect(redactSecrets(42)).toBe(42);
    expect(redactSecrets(null)).toBe(null);
  });

  test('an Error passes through untouched, for pino to log its type, code and stack', () => {
    const err = Object.assign(new TypeError('bad thing'), { code: '23505' });
    const out = redactSecrets({ err }) as { err: unknown };
    expect(out.err).toBe(err);
  });

  test('does not modify its input', () => {
    const input = { password: 'p', nested: { secret: 's' } };
    redactSecrets(input);
    expect(input).toEqual({ password: 'p', nested: { secret: 's' } });
  });

  test('stops at a bounded depth on deep or cyclic data, without letting a deep secret through', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(() => JSON.stringify(redactSecrets(cyclic))).not.toThrow();
    let deep: Record<string, unknown> = { password: 'bottom-secret' };
    for (let i = 0; i < 50; i++) deep = { level: deep };
    expect(JSON.stringify(redactSecrets(deep))).not.toContain('bottom-secret');
    // …and through the logger as well.
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    log.info({ payload: deep }, 'deep');
    expect(lines.join('')).not.toContain('bottom-secret');
    expect(lines.join('')).toContain('deep');
  });
});
