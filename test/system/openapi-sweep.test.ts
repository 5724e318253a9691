import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { accepted, source, standardHeaders } from '../helpers/inbound-flow.js';
import { arbitraryFor, sampleFor } from '../helpers/schema-arbitrary.js';

// The whole API as /openapi.json lists it, so a route added later is swept without editing this
// file: (1) workspace A's key against every route with workspace B's ids never gets a 2xx and never
// sees B; (2) bodies generated from each route's own schema, valid and not, never get a 5xx, a
// stack trace or a secret.
type Op = { method: string; path: string; body?: Record<string, any> };

let t: TestApp;
let A: Awaited<ReturnType<typeof seedWorkspace>>;
let B: Awaited<ReturnType<typeof seedWorkspace>>;
let ops: Op[];
let defs: Record<string, any>;
const idsOfB: Record<string, string> = {};
const secretsOfB: string[] = [];

// Routes that are not a workspace's: public by design, or about the caller itself.
const NOT_TENANT_SCOPED = /^\/(healthz|readyz|hooks\/)|^\/v1\/(auth\/|keys\/verify$|providers$|event-types$)/;

beforeAll(async () => {
  t = await createTestApp();
  A = await seedWorkspace(t, ['*'], 'sweep-a');
  B = await seedWorkspace(t, ['*'], 'sweep-b');
  const doc = (await t.call(null, 'GET', '/openapi.json')).body;
  defs = doc.components?.schemas ?? {};
  ops = Object.entries<Record<string, any>>(doc.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => ({ method: m.toUpperCase(), path, body: op.requestBody?.content?.['application/json']?.schema })),
  );
  // B's resources, one of each kind a path can name.
  const b = (method: 'POST' | 'PUT', url: string, body: unknown) => t.call(B.key, method, url, body).then((r) => {
    if (r.status >= 300) throw new Error(`${method} ${url}: ${r.raw}`);
    return r.body;
  });
  const instance = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'sweep', base_url: 'https://bison.example.com/api' })).body;
  const endpoint = await b('POST', `/v1/workspaces/${B.workspace.id}/webhooks`, { url: 'https://b.example.com/hook', events: ['lead.created'], auth_token: 'b-endpoint-token-123456' });
  await b('POST', `/v1/workspaces/${B.workspace.id}/events`, { type: 'lead.created', payload: { b: true } });
  const deliveries = (await t.call(B.key, 'GET', `/v1/webhooks/${endpoint.id}/deliveries`)).body.data;
  await b('PUT', `/v1/workspaces/${B.workspace.id}/credentials/emailbison`, { instance: instance.id, api_key: 'b-provider-secret-987654', provider_workspace_id: '7' });
  const src = await source(t, B.workspace.id, { provider: 'standard' });
  const payload = JSON.stringify({ type: 'lead.created', data: {} });
  const inboundEvent = await accepted(t, src.id, payload, standardHeaders(src.secret!, payload));
  const invitation = (await t.call(t.adminKey, 'POST', `/v1/organizations/${B.org.id}/invitations`, { email: 'sweep-b@example.com', role: 'member' })).body;
  Object.assign(idsOfB, {
    organizations: B.org.id, workspaces: B.workspace.id, 'api-keys': B.keyId, webhooks: endpoint.id, deliveries: deliveries[0].id,
    'inbound-sources': src.id, 'inbound-events': inboundEvent as unknown as string, instances: instance.id, invitations: invitation.id,
  });
  secretsOfB.push(B.key, endpoint.secret, 'b-endpoint-token-123456', 'b-provider-secret-987654', src.secret!);
}, 60_000);
afterAll(() => t?.close());

const collectionOf = (path: string) => /^\/v1\/([a-z-]+)\/\{id\}/.exec(path)?.[1];
const fill = (path: string, ids: Record<string, string>) => path.replace(/\{id\}/, ids[collectionOf(path)!] ?? 'missing').replace('{provider}', 'emailbison');

describe('isolation: workspace A against B', () => {
  test('every route naming a resource of B answers A with 403 or 404', async () => {
    const byId = ops.filter((o) => o.path.includes('{id}') && !NOT_TENANT_SCOPED.test(o.path));
    expect(byId.length).toBeGreaterThanOrEqual(40);
    const wrong: string[] = [];
    for (const op of byId) {
      const collection = collectionOf(op.path);
      if (collection === 'jobs') continue; // jobs belong to provider instances: platform admins only (checked below)
      expect(idsOfB[collection!], `an id of B for ${op.path}`).toBeDefined();
      const url = fill(op.path, idsOfB);
      const body = op.body ? sampleFor(op.body, defs) : undefined;
      const res = await t.call(A.key, op.method as 'GET', url, body);
      if (res.status !== 403 && res.status !== 404) wrong.push(`${op.method} ${url} → ${res.status} ${res.raw.slice(0, 160)}`);
      for (const s of secretsOfB) if (res.raw.includes(s)) wrong.push(`${op.method} ${url} shows a secret of B`);
    }
    expect(wrong).toEqual([]);
  });

  test("listings and reports A may read never mention B's resources", async () => {
    const lists = ops.filter((o) => o.method === 'GET' && !o.path.includes('{') && o.path.startsWith('/v1/'));
    expect(lists.length).toBeGreaterThanOrEqual(6);
    for (const op of lists) {
      const res = await t.call(A.key, 'GET', op.path);
      expect(res.status, `${op.path}: ${res.raw.slice(0, 200)}`).toBeLessThan(500);
      for (const id of Object.values(idsOfB)) expect(res.raw, `${op.path} names ${id}`).not.toContain(id);
    }
  });

  test('a job is a platform admin’s only: a workspace key never reads one', async () => {
    const res = await t.call(A.key, 'GET', '/v1/jobs/job_01hzzzzzzzzzzzzzzzzzzzzzzz');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('bodies from each route’s schema', () => {
  const STACK = /\n\s+at |node_modules|\.ts:\d+|\.js:\d+/;
  const expectSafe = (res: { status: number; body: any; raw: string }, what: string) => {
    expect(res.status, what).toBeLessThan(500);
    if (res.status >= 400) {
      expect(typeof res.body?.error?.code, what).toBe('string');
      expect(typeof res.body?.error?.message, what).toBe('string');
    }
    expect(res.raw, what).not.toMatch(STACK);
    expect(res.raw, what).not.toContain(t.adminKey);
  };

  test('valid and invalid bodies on every POST, PUT and PATCH route of A: no 5xx, error shape, no stack, no key', async () => {
    const writes = ops.filter((o) => o.body && !o.path.startsWith('/hooks/') && !o.path.startsWith('/v1/auth/'));
    expect(writes.length).toBeGreaterThanOrEqual(25);
    const idsOfA: Record<string, string> = { ...idsOfB, workspaces: A.workspace.id, organizations: A.org.id, 'api-keys': 'key_unknown' };
    for (const op of writes) {
      const url = fill(op.path, idsOfA);
      const body = fc.oneof(
        { weight: 3, arbitrary: arbitraryFor(op.body!, defs) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 3000 }).map((s) => ({ name: s, url: s, events: [s], type: s })) },
      );
      await fc.assert(
        fc.asyncProperty(body, async (payload) => {
          const res = await t.call(A.key, op.method as 'POST', url, payload);
          expectSafe(res, `${op.method} ${url} ${JSON.stringify(payload).slice(0, 200)}`);
        }),
        { numRuns: 12, seed: 7 },
      );
    }
  });

  test('odd ids on every route: no 5xx, error shape, no stack', async () => {
    const odd = ['%00', '..%2F..%2Fetc', 'x'.repeat(2000), "1' or '1'='1", '🙂', 'ws_' + '0'.repeat(26), '-1', 'null'];
    for (const op of ops.filter((o) => o.path.includes('{id}') && !o.path.startsWith('/hooks/'))) {
      for (const id of odd) {
        const url = op.path.replace('{id}', id).replace('{provider}', 'emailbison');
        const res = await t.call(t.adminKey, op.method as 'GET', url, op.body ? sampleFor(op.body, defs) : undefined);
        expectSafe(res, `${op.method} ${url.slice(0, 120)}`);
      }
    }
  });
});
