import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Answers over real HTTP (app.inject sends no Accept-Encoding): compressed when the client asks
// and the answer is worth it, byte-identical once decoded.
let t: TestApp;
let base: string;
let key: string;
let workspaceId: string;

beforeAll(async () => {
  t = await createTestApp();
  const seed = await seedWorkspace(t);
  key = seed.key;
  workspaceId = seed.workspace.id;
  for (let i = 0; i < 12; i++) await t.call(key, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: `listed key ${i}`, scopes: ['keys:read'] });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t?.close());

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
  return { status: res.statusCode, headers: res.headers, bytes: Buffer.from(await res.body.arrayBuffer()) };
}

describe('response compression', () => {
  for (const [encoding, decode] of [['br', brotliDecompressSync], ['gzip', gunzipSync]] as const) {
    test(`${encoding} when asked: the OpenAPI document and a list, decoded to the same JSON`, async () => {
      for (const path of ['/openapi.json', `/v1/workspaces/${workspaceId}/api-keys`]) {
        const plain = await get(path);
        const packed = await get(path, { 'accept-encoding': encoding });
        expect(plain.status).toBe(200);
        expect(plain.headers['content-encoding']).toBeUndefined();
        expect(packed.headers['content-encoding'], path).toBe(encoding);
        expect(packed.headers.vary).toContain('accept-encoding');
        expect(packed.bytes.length).toBeLessThan(plain.bytes.length);
        expect(JSON.parse(decode(packed.bytes).toString())).toEqual(JSON.parse(plain.bytes.toString()));
      }
    });
  }

  test('small answers go as they are', async () => {
    const res = await get('/healthz', { 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  test('request bodies are read as sent: a gzip body is not inflated for the route', async () => {
    const res = await request(`${base}/v1/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ name: 'org-compressed', plan: 'starter' })),
    });
    const body = (await res.body.json()) as { error?: { code: string } };
    expect(res.statusCode).toBe(400);
    expect(body.error?.code).toBe('validation_failed');
  });
});
