import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startReceiver, type Receiver } from '../helpers/webhooks.js';

// A provider target that keeps failing opens its circuit: every workspace's calls to it fail at
// once with a 502 saying why and until when, while other targets are untouched; after the reset
// one trial call goes through and a success closes it. A credential's 4xx never counts.
let t: TestApp;
let down: Receiver;
let other: Receiver;
let refusing: Receiver;
beforeAll(async () => {
  // Open for half a second (a variable sets whole seconds): the test waits for the reset briefly, and
  // what must happen while it is open (a request or two) still fits well inside it.
  t = await createTestApp({}, { upstreamBreakerResetS: 0.5 });
  down = await startReceiver(() => ({ status: 503, body: 'maintenance' }));
  other = await startReceiver(() => ({ status: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } }));
  refusing = await startReceiver(() => ({ status: 401, body: 'bad token' }));
});
afterAll(async () => {
  await t?.close();
  for (const r of [down, other, refusing]) await r?.close();
});

async function workspaceOn(base: string) {
  const ws = await seedWorkspace(t);
  const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/http`, { base_url: base, auth_type: 'bearer', token: 'tok-123456789' });
  expect(put.status, put.raw).toBe(200);
  return ws.workspace.id as string;
}
/** Resolves once the breaker has let its `n`th trial call through since the app started (it logs each). */
const halfOpen = (n: number) => eventually(async () => t.logs.filter((l) => l.includes('upstream circuit half-open')).length >= n, 5000, 20);
// POST: the client does not retry it, so each call is exactly one request to the target.
const callVia = (workspaceId: string) => t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/upstream/http`, { method: 'POST', path: '/v1/things', body: {} });

describe('the circuit breaker per provider target', () => {
  test('five failures open it for every workspace on that target; others are untouched; a trial after the reset closes it', async () => {
    const [a, b, c] = [await workspaceOn(down.url), await workspaceOn(down.url), await workspaceOn(other.url)];
    for (let i = 0; i < 5; i++) expect((await callVia(a)).body.status).toBe(503);
    expect(down.received).toHaveLength(5);

    const fast = await callVia(b);
    expect(fast.status).toBe(502);
    expect(fast.body.error.code).toBe('upstream_failed');
    expect(fast.body.error.message).toMatch(/is failing \(5 of its last 5 calls got no answer or a 5xx\); calls to it are paused until .+, then one trial call goes through/);
    expect(Number(fast.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(down.received, 'no request reached the failing target').toHaveLength(5);
    expect(JSON.stringify(fast.body)).not.toContain('tok-123456789');
    expect((await callVia(c)).body.status).toBe(200);

    // Half-open: one trial; it fails again, so the circuit opens again at once.
    await halfOpen(1);
    expect((await callVia(b)).body.status).toBe(503);
    expect(down.received).toHaveLength(6);
    expect((await callVia(a)).status).toBe(502);

    // The target recovers: the next trial succeeds and calls flow again.
    down.respondWith(() => ({ status: 201, body: '{}' }));
    await halfOpen(2);
    expect((await callVia(a)).body.status).toBe(201);
    expect((await callVia(b)).body.status).toBe(201);
    expect(down.received).toHaveLength(8);
  });

  test("a credential's 401s are its own fault: they never open the target's circuit", async () => {
    const w = await workspaceOn(refusing.url);
    for (let i = 0; i < 8; i++) expect((await callVia(w)).body.status).toBe(401);
    expect(refusing.received).toHaveLength(8);
  });
});
