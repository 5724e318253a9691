import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// The resource filters the portal's audit page uses, on the list and on the export alike.
let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let other: Awaited<ReturnType<typeof seedWorkspace>>;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t);
  other = await seedWorkspace(t);
  keyA = (await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'a', scopes: ['keys:read'] })).body.id;
  keyB = (await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'b', scopes: ['keys:read'] })).body.id;
  await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${keyA}`);
});
afterAll(() => t.close());

describe('GET /v1/audit by resource', () => {
  test('resource_id selects one resource’s history, oldest last', async () => {
    const res = await t.call(t.adminKey, 'GET', `/v1/audit?resource_id=${keyA}`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.data.map((e: any) => e.action)).toEqual(['key.revoked', 'key.created']);
    expect(res.body.data.every((e: any) => e.resource.id === keyA)).toBe(true);
  });

  test('resource_type selects a kind of resource, combined with the other filters', async () => {
    const res = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${ws.workspace.id}&resource_type=api_key&action=key.created`);
    expect(res.status, res.raw).toBe(200);
    const ids = res.body.data.map((e: any) => e.resource.id).sort();
    expect(ids).toEqual([ws.keyId, keyA, keyB].sort());
    const none = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${ws.workspace.id}&resource_type=webhook_endpoint`);
    expect(none.body.data).toEqual([]);
  });

  test('the CSV export carries the same filter', async () => {
    const res = await t.call(t.adminKey, 'GET', `/v1/audit?resource_id=${keyB}&format=csv`);
    expect(res.status).toBe(200);
    const lines = res.raw.trim().split(/\r?\n/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(keyB);
    expect(res.raw).not.toContain(keyA);
  });

  test('a workspace key filtering by another workspace’s resource id still sees only its own trail', async () => {
    const res = await t.call(ws.key, 'GET', `/v1/audit?resource_id=${other.keyId}`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.data).toEqual([]);
    const foreign = await t.call(ws.key, 'GET', `/v1/audit?workspace_id=${other.workspace.id}&resource_id=${other.keyId}`);
    expect(foreign.status).toBe(404);
  });
});
