import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ApiError, createClient, unwrap, type GatehouseClient } from '../../sdk/src/index.js';
import { generateKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The SDK against a live server on loopback: typed calls in, the server's answers out.
let t: TestApp;
let baseUrl: string;
let admin: GatehouseClient;

beforeAll(async () => {
  t = await createTestApp();
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  admin = createClient({ baseUrl, apiKey: t.adminKey });
});
afterAll(() => t?.close());

describe('createClient', () => {
  test('the platform key creates an organization, a workspace and a workspace key; that key lists and creates in its workspace', async () => {
    const org = await unwrap(admin.POST('/v1/organizations', { body: { name: 'SDK org', plan: 'starter' } }));
    const ws = await unwrap(admin.POST('/v1/organizations/{id}/workspaces', { params: { path: { id: org.id } }, body: { name: 'sdk-ws' } }));
    expect(ws.organization_id).toBe(org.id);
    const minted = await unwrap(admin.POST('/v1/workspaces/{id}/api-keys', {
      params: { path: { id: ws.id } }, body: { name: 'sdk key', scopes: ['keys:read', 'keys:write', 'webhooks:read'] },
    }));
    expect(minted.key).toMatch(/^gate_(live|test)_/);

    // A trailing slash on the base URL is forgiven.
    const gatehouse = createClient({ baseUrl: `${baseUrl}/`, apiKey: minted.key });
    await unwrap(gatehouse.POST('/v1/workspaces/{id}/api-keys', { params: { path: { id: ws.id } }, body: { name: 'second', scopes: ['keys:read'] } }));
    const keys = await unwrap(gatehouse.GET('/v1/workspaces/{id}/api-keys', { params: { path: { id: ws.id } } }));
    const names = (Array.isArray(keys) ? keys : keys.data).map((k) => k.name).sort();
    expect(names).toEqual(['sdk key', 'second']);
    const one = await unwrap(gatehouse.GET('/v1/api-keys/{id}', { params: { path: { id: minted.id } } }));
    expect(one).toMatchObject({ id: minted.id, workspace_id: ws.id, scopes: ['keys:read', 'keys:write', 'webhooks:read'] });
    expect(JSON.stringify(one)).not.toContain(minted.key);

    // The key verification route needs no Authorization; the client's header does not disturb it.
    const verdict = await unwrap(gatehouse.POST('/v1/keys/verify', { body: { key: minted.key, scope: 'keys:write' } }));
    expect(verdict).toMatchObject({ valid: true, code: 'valid', key_id: minted.id, workspace_id: ws.id });

    // Another workspace's resources are not found, and the error says so in the contract's terms.
    const other = await unwrap(admin.POST('/v1/organizations/{id}/workspaces', { params: { path: { id: org.id } }, body: { name: 'sdk-other' } }));
    const refused = await unwrap(gatehouse.GET('/v1/workspaces/{id}/api-keys', { params: { path: { id: other.id } } })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 404, code: 'not_found' });
    expect((refused as ApiError).requestId).toMatch(/^req_/);
  });

  test('a wrong key is a 401 ApiError; without unwrap the error body is typed data', async () => {
    const stranger = createClient({ baseUrl, apiKey: generateKey() });
    const { data, error, response } = await stranger.GET('/v1/organizations');
    expect(data).toBeUndefined();
    expect(response.status).toBe(401);
    expect(error).toMatchObject({ error: { code: 'unauthenticated' } });
    await expect(unwrap(stranger.GET('/v1/organizations'))).rejects.toMatchObject({ name: 'ApiError', status: 401, code: 'unauthenticated' });
  });

  test('validation errors carry their details', async () => {
    const bad = await unwrap(admin.POST('/v1/organizations', { body: { name: '', plan: 'starter' } })).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((bad as ApiError).details).toBeDefined();
  });

  test('an apiKey is required', () => {
    expect(() => createClient({ baseUrl, apiKey: '' })).toThrow(/apiKey/);
  });
});
