import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { claimDeliveries } from '../../src/modules/webhooks/store-deliveries.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Tenants share the delivery worker fairly: one workspace's dead endpoints take only its share of
// the slots, claims take turns between workspaces and endpoints, and a workspace's endpoints and
// event rate are bounded.
const MAX_ENDPOINTS = 12;
const EVENTS_PER_S = 3; // counted over 10 s windows: 30 events a window
let t: TestApp;
let rx: Receiver;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_WORKSPACE_MAX_ENDPOINTS: String(MAX_ENDPOINTS), GATEHOUSE_WORKSPACE_EVENTS_PER_S: String(EVENTS_PER_S) });
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  await t?.close();
});

const endpoint = async (wsId: string, url: string, extra: Record<string, unknown> = {}) => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url, events: ['lead.created'], ...extra });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string };
};
const send = async (wsId: string, body: Record<string, unknown> = {}) => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsId}/events`, { type: 'lead.created', payload: {}, ...body });
  expect(res.status, res.raw).toBe(202);
  return res.body as { event_id: string };
};

/** A listener that accepts every connection and never answers: each request to it holds a slot until its timeout. */
async function startBlackHole() {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => sockets.size,
    /** Resolves once `n` connections are held open. */
    async holding(n: number) {
      while (sockets.size < n) await new Promise<void>((resolve) => server.once('connection', () => setImmediate(resolve)));
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('claims take turns', () => {
  test("between workspaces and between a workspace's endpoints, whatever their backlog's age", async () => {
    const { workspace: a } = await seedWorkspace(t);
    const { workspace: b } = await seedWorkspace(t);
    const a1 = await endpoint(a.id, `${rx.url}/turns/a1`, { max_in_flight: 10 });
    const a2 = await endpoint(a.id, `${rx.url}/turns/a2`, { max_in_flight: 10 });
    const bEp = await endpoint(b.id, `${rx.url}/turns/b`, { max_in_flight: 10 });
    // a1's backlog is the oldest, then one for a2, then one for b: oldest-first would take a1's three.
    for (let i = 0; i < 3; i++) await send(a.id, { endpoint: a1.id });
    await send(a.id, { endpoint: a2.id });
    await send(b.id, { endpoint: bEp.id });
    const claimed = await claimDeliveries(t.db.database.db, 'turns-test', 3, 30_000, { workspaces: { cap: 10, held: new Map() } });
    expect(claimed.map((d) => d.endpoint_id).sort()).toEqual([a1.id, a2.id, bEp.id].sort());
    // A workspace at its share in this worker gets nothing more; the others still do.
    const more = await claimDeliveries(t.db.database.db, 'turns-test', 10, 30_000, { workspaces: { cap: 3, held: new Map([[a.id, 2]]) } });
    expect(more.map((d) => d.endpoint_id)).toEqual([a1.id]);
    for (const ep of [a1, a2, bEp]) expect((await t.call(t.adminKey, 'DELETE', `/v1/webhooks/${ep.id}`)).status).toBe(204);
  });

  test('a workspace holding more than the slots now free still gets what is left of its share, and borrows when a share stays free', async () => {
    const { workspace: a } = await seedWorkspace(t);
    const e = await endpoint(a.id, `${rx.url}/held/a`, { max_in_flight: 20 });
    for (let i = 0; i < 5; i++) await send(a.id, { endpoint: e.id });
    const claim = async (free: number, held: number) => {
      const got = await t.db.database.db.transaction().execute(async (trx) => {
        const rows = await claimDeliveries(trx, 'held-test', free, 30_000, { workspaces: { cap: 8, borrowCap: 16, held: new Map([[a.id, held]]) } });
        throw Object.assign(new Error('rolled back'), { rows });
      }).catch((err: { rows?: unknown[] }) => err.rows ?? Promise.reject(err));
      return got.length;
    };
    // Holds 6 of its share of 8, 3 slots free: 2 more, the rest of its share.
    expect(await claim(3, 6)).toBe(2);
    // Holds 12 (borrowing), 10 free: it may borrow 2, leaving a share (8) free for others.
    expect(await claim(10, 12)).toBe(2);
    // Holds 5, 4 free: 3 more (its share), nothing borrowed, as a share must stay free.
    expect(await claim(4, 5)).toBe(3);
    expect((await t.call(t.adminKey, 'DELETE', `/v1/webhooks/${e.id}`)).status).toBe(204);
  });
});

describe('fair shares of the delivery slots', () => {
  test("a workspace's 12 endpoints that never answer do not delay another workspace: accepted → received p95 under 1 s", async () => {
    const hole = await startBlackHole();
    const { workspace: a } = await seedWorkspace(t);
    const { workspace: b } = await seedWorkspace(t);
    for (let i = 0; i < MAX_ENDPOINTS; i++) await endpoint(a.id, `${hole.url}/dead/${i}`, { timeout_s: 40 });
    await endpoint(b.id, `${rx.url}/fair/b`);
    // 12 endpoints × 4 in flight each: more requests than the worker has slots, each held 40 s.
    for (let i = 0; i < 5; i++) await send(a.id, { payload: { i } });
    const worker = await startDeliveryWorker(t, { concurrency: 32, pollMs: 200 });
    const share = t.config.workspaceDeliveryConcurrency;
    // Alone, the workspace takes idle slots beyond its share: up to half the worker, leaving a share free.
    const alone = Math.max(share, Math.min(16, 32 - share));
    try {
      await hole.holding(alone);
      const acceptedAt = new Map<number, number>();
      for (let i = 0; i < 20; i++) {
        await send(b.id, { payload: { i } });
        acceptedAt.set(i, Date.now());
      }
      // Deliveries held behind the dead ones would take 40 s; waiting longer proves nothing more.
      await rx.waitFor(20, 10_000).catch(() => {});
      const receivedAt = new Map(rx.received.filter((r) => r.url === '/fair/b').map((r) => [JSON.parse(r.body).data.i as number, r.at]));
      const latencies = [...acceptedAt].map(([i, at]) => (receivedAt.has(i) ? receivedAt.get(i)! - at : Infinity)).sort((x, y) => x - y);
      const p95 = latencies[Math.ceil(0.95 * latencies.length) - 1];
      expect(p95, `accepted → received, ms: ${latencies.join(', ')}`).toBeLessThan(1000);
      // The dead endpoints hold all but a share of this worker's slots, and never the last share.
      expect(hole.open()).toBe(alone);
    } finally {
      await hole.close();
      await worker.stop();
    }
  }, 60_000);
});

describe('limits per workspace', () => {
  test(`a workspace may register ${MAX_ENDPOINTS} endpoints; one more is a 409 naming the limit, and deleting one makes room`, async () => {
    const { workspace } = await seedWorkspace(t);
    const ids: string[] = [];
    for (let i = 0; i < MAX_ENDPOINTS; i++) ids.push((await endpoint(workspace.id, `${rx.url}/count/${i}`, { enabled: false })).id);
    const over = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `${rx.url}/count/over`, events: ['lead.created'] });
    expect(over.status, over.raw).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'conflict', details: { reason: 'endpoint_limit', limit: MAX_ENDPOINTS } });
    // Another workspace's count is its own.
    const { workspace: other } = await seedWorkspace(t);
    await endpoint(other.id, `${rx.url}/count/other`, { enabled: false });
    expect((await t.call(t.adminKey, 'DELETE', `/v1/webhooks/${ids[0]}`)).status).toBe(204);
    await endpoint(workspace.id, `${rx.url}/count/again`, { enabled: false });
  });

  test('creations racing for the last place: exactly one gets it', async () => {
    const { workspace } = await seedWorkspace(t);
    for (let i = 0; i < MAX_ENDPOINTS - 1; i++) await endpoint(workspace.id, `${rx.url}/race/${i}`, { enabled: false });
    const racers = await Promise.all(Array.from({ length: 4 }, (_, i) =>
      t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `${rx.url}/race/last-${i}`, events: ['lead.created'], enabled: false })));
    expect(racers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
  });

  test(`a workspace sending more than ${EVENTS_PER_S} events a second gets 429 with Retry-After; another workspace is not slowed`, async () => {
    const { workspace } = await seedWorkspace(t);
    const { workspace: other } = await seedWorkspace(t);
    const budget = EVENTS_PER_S * 10;
    const all = await Promise.all(Array.from({ length: budget + 1 }, (_, i) =>
      t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/events`, { type: 'lead.created', payload: { i } })));
    expect(all.filter((r) => r.status === 202)).toHaveLength(budget);
    const refused = all.filter((r) => r.status !== 202);
    expect(refused.map((r) => r.status)).toEqual([429]);
    expect(refused[0].body.error).toMatchObject({ code: 'rate_limited', details: { reason: 'workspace_event_rate', limit_per_s: EVENTS_PER_S } });
    const retryAfter = Number(refused[0].headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    await send(other.id);
  });
});
