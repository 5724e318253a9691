import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';

// An endpoint's auth token and header values are write-only: a holder of webhooks:write must not
// be able to read them out by moving the endpoint to a server of its own and letting Gatehouse
// send them there.

const TOKEN = 'receiver-bearer-token-0123456789';
const HEADER = 'x-api-key-value-0123456789abcdef';

let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let owner: Receiver;
let attacker: Receiver;
let worker: DeliveryWorker;

beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t);
  owner = await startReceiver();
  attacker = await startReceiver();
  worker = await startDeliveryWorker(t, { pollMs: 50 });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([owner?.close(), attacker?.close()]);
  await t?.close();
});

async function endpoint() {
  const created = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, {
    url: `${owner.url}/hooks`, events: ['*'], auth_token: TOKEN, headers: { 'X-Api-Key': HEADER },
  });
  expect(created.status, created.raw).toBe(201);
  return created.body as { id: string; headers: Record<string, string> };
}

describe('an endpoint moved to another origin', () => {
  test('keeps no secret it was not given again: leaving them out, or sending their masks back, is refused and changes nothing', async () => {
    const ep = await endpoint();
    for (const body of [
      { url: `${attacker.url}/steal` },
      { url: `${attacker.url}/steal`, headers: ep.headers },
      { url: `${attacker.url}/steal`, auth_token: TOKEN },
    ]) {
      const moved = await t.call(ws.key, 'PATCH', `/v1/webhooks/${ep.id}`, body);
      expect(moved.status, moved.raw).toBe(400);
      expect(moved.body.error.details.reason).toBe('destination_changed');
      expect(moved.body.error.details.missing_fields.length).toBeGreaterThan(0);
      expect(moved.raw).not.toContain(TOKEN);
      expect(moved.raw).not.toContain(HEADER);
    }
    const now = await t.call(ws.key, 'GET', `/v1/webhooks/${ep.id}`);
    expect(now.body.url).toBe(`${owner.url}/hooks`);
  });

  test('moves when every secret is given again or removed; the new origin receives only what was given', async () => {
    const ep = await endpoint();
    const moved = await t.call(ws.key, 'PATCH', `/v1/webhooks/${ep.id}`, { url: `${attacker.url}/new`, auth_token: null, headers: { 'X-Api-Key': 'a-new-value-for-the-new-origin' } });
    expect(moved.status, moved.raw).toBe(200);
    const sent = await t.call(ws.key, 'POST', `/v1/webhooks/${ep.id}/test`, {});
    expect(sent.status, sent.raw).toBe(202);
    await attacker.waitFor(1);
    const got = attacker.received.at(-1)!;
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers['x-api-key']).toBe('a-new-value-for-the-new-origin');
    expect(JSON.stringify(attacker.received)).not.toContain(HEADER);
  });

  test('a new path on the same origin keeps the secrets', async () => {
    const ep = await endpoint();
    const moved = await t.call(ws.key, 'PATCH', `/v1/webhooks/${ep.id}`, { url: `${owner.url}/other-path` });
    expect(moved.status, moved.raw).toBe(200);
    expect(moved.body.headers).toEqual(ep.headers);
  });
});
