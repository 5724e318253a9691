import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { alertSilentSources } from '../../src/modules/inbound/health.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startInboundWorker } from '../helpers/inbound.js';
import { finishedDeliveries } from '../helpers/inbound-flow.js';
import { eventually, startDeliveryWorker, startReceiver } from '../helpers/webhooks.js';

// Listing, CSV export, tenancy of the inbound routes, per-source health and the silent-source alert.
// Requests go in through POST /hooks/:source_id (unsigned `http` sources, or `standard` ones signed
// with the standardwebhooks package); back-dated history is written straight into the tables.
let t: TestApp;
let wsA: { id: string };
let keyA: string;
let keyB: string;
let wsB: { id: string };
let inbound: { stop(): Promise<void> };

type InboundEvent = { id: string; source_id: string; status: string; event_types: string[] | null; received_at: string };
type Health = {
  last_received_at: string | null; received_24h: number; rejected_24h: number;
  by_day: Array<{ day: string; received: number; rejected: number }>; rejections_by_reason: Record<string, number>; silent: boolean;
};

async function source(app: TestApp, wsId: string, input: Record<string, unknown>) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/inbound-sources`, { name: `src-${randomUUID().slice(0, 8)}`, ...input });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret?: string; name: string };
}
const post = (app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}) =>
  app.app.inject({ method: 'POST', url: `/hooks/${sourceId}`, payload: body, headers: { 'content-type': 'application/json', 'user-agent': 'events-test', ...headers } });
async function accepted(app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}) {
  const res = await post(app, sourceId, body, headers);
  expect(res.statusCode, res.body).toBe(200);
  return JSON.parse(res.body).id as string;
}
const settled = (app: TestApp, id: string) =>
  eventually(async () => {
    const e = (await app.call(app.adminKey, 'GET', `/v1/inbound-events/${id}`)).body as InboundEvent;
    return ['processed', 'ignored', 'failed'].includes(e.status) ? e : null;
  });
const list = async (key: string, query: string) => {
  const res = await t.call(key, 'GET', `/v1/workspaces/${wsA.id}/inbound-events?${query}`);
  expect(res.status, res.raw).toBe(200);
  return res.body as { data: InboundEvent[]; next_cursor: string | null };
};
const ids = (rows: InboundEvent[]) => rows.map((r) => r.id);
const sorted = (a: string[]) => [...a].sort();
/** A processed event in `inbound_events`, received at `at` (the worker never picks it up). */
async function backdated(app: TestApp, src: { id: string }, wsId: string, at: Date) {
  const id = `iev_test_${randomUUID().replace(/-/g, '')}`;
  await sql`insert into inbound_events (id, workspace_id, source_id, dedup_key, status, signature, body, received_at, processed_at)
    values (${id}, ${wsId}, ${src.id}, ${id}, 'processed', 'unsigned', decode('7b7d', 'hex'), ${at.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz)`.execute(app.db.database.db);
  return id;
}
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const utcDay = (d: Date) => d.toISOString().slice(0, 10);

beforeAll(async () => {
  t = await createTestApp();
  const a = await seedWorkspace(t);
  wsA = a.workspace;
  keyA = a.key;
  const b = await seedWorkspace(t);
  wsB = b.workspace;
  keyB = b.key;
  inbound = await startInboundWorker(t, { pollMs: 50 });
});
afterAll(async () => {
  await inbound?.stop();
  await t?.close();
});

let s1: { id: string };
let s2: { id: string };
let created: string[]; // s1, lead.created
let ignored: string;   // s1, no type
let sent: string[];    // s2, email.sent
let all: string[];     // newest first, by the received_at set below

describe('listing', () => {

  beforeAll(async () => {
    s1 = await source(t, wsA.id, { provider: 'http' });
    s2 = await source(t, wsA.id, { provider: 'http' });
    created = [];
    for (let i = 0; i < 3; i++) created.push(await accepted(t, s1.id, JSON.stringify({ type: 'lead.created', i })));
    ignored = await accepted(t, s1.id, JSON.stringify({ nothing: 'known' }));
    sent = [];
    for (let i = 0; i < 2; i++) sent.push(await accepted(t, s2.id, JSON.stringify({ type: 'email.sent', i })));
    for (const id of [...created, ignored, ...sent]) await settled(t, id);
    // Known, distinct receiving times an hour back, a minute apart, in the order sent.
    const order = [...created, ignored, ...sent];
    const base = Date.now() - HOUR;
    for (const [i, id] of order.entries()) {
      await sql`update inbound_events set received_at = ${new Date(base + i * 60_000).toISOString()}::timestamptz where id = ${id}`.execute(t.db.database.db);
    }
    all = [...order].reverse();
  });

  test('the workspace lists its events newest first, with status and types', async () => {
    const page = await list(keyA, 'limit=100');
    expect(ids(page.data)).toEqual(all);
    const one = page.data.find((e) => e.id === sent[0])!;
    expect(one).toMatchObject({ source_id: s2.id, status: 'processed', event_types: ['email.sent'] });
    expect(page.data.find((e) => e.id === ignored)!.status).toBe('ignored');
  });

  test('filters: source_id, type, status', async () => {
    expect(sorted(ids((await list(keyA, `source_id=${s1.id}`)).data))).toEqual(sorted([...created, ignored]));
    expect(sorted(ids((await list(keyA, `source_id=${s2.id}`)).data))).toEqual(sorted(sent));
    expect(sorted(ids((await list(keyA, 'type=email.sent')).data))).toEqual(sorted(sent));
    expect(sorted(ids((await list(keyA, 'type=lead.created')).data))).toEqual(sorted(created));
    expect(ids((await list(keyA, 'status=ignored')).data)).toEqual([ignored]);
    expect(sorted(ids((await list(keyA, `status=processed&source_id=${s1.id}`)).data))).toEqual(sorted(created));
    expect((await list(keyA, 'status=failed')).data).toEqual([]);
  });

  test('filters: from and to (received_at)', async () => {
    const r = await t.db.database.db.selectFrom('inbound_events').select(['id', 'received_at']).where('workspace_id', '=', wsA.id).orderBy('received_at').execute();
    const times = r.map((x) => new Date(x.received_at as unknown as string).getTime());
    // bounds strictly between the 2nd/3rd and the 4th/5th events
    const lo = new Date((times[1] + times[2]) / 2).toISOString();
    const hi = new Date((times[3] + times[4]) / 2).toISOString();
    const window = (await list(keyA, `from=${encodeURIComponent(lo)}&to=${encodeURIComponent(hi)}`)).data;
    expect(sorted(ids(window))).toEqual(sorted([r[2].id, r[3].id]));
    expect(sorted(ids((await list(keyA, `from=${encodeURIComponent(hi)}`)).data))).toEqual(sorted(r.slice(4).map((x) => x.id)));
    expect(sorted(ids((await list(keyA, `to=${encodeURIComponent(lo)}`)).data))).toEqual(sorted(r.slice(0, 2).map((x) => x.id)));
  });

  test('cursor pages of 2 give every event once, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(keyA, `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...ids(page.data));
      cursor = page.next_cursor;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (cursor);
    expect(seen).toEqual(all);
    const first = await list(keyA, 'limit=2');
    expect(first.next_cursor).toBeTruthy();
    const filtered = await list(keyA, `limit=2&source_id=${s1.id}`);
    const rest = await list(keyA, `limit=2&source_id=${s1.id}&cursor=${encodeURIComponent(filtered.next_cursor!)}`);
    expect([...ids(filtered.data), ...ids(rest.data)]).toEqual(all.filter((id) => [...created, ignored].includes(id)));
  });

  test('format=csv: a CSV with a header row and one row per matching event', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/workspaces/${wsA.id}/inbound-events?format=csv&source_id=${s1.id}`, headers: { authorization: `Bearer ${keyA}` } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
    expect(rows).toHaveLength(4);
    expect(sorted(rows.map((r) => r.id))).toEqual(sorted([...created, ignored]));
    expect(rows.find((r) => r.id === ignored)!.status).toBe('ignored');
    expect(rows.find((r) => r.id === created[0])!.source_id).toBe(s1.id);
    const everything = parse((await t.app.inject({ method: 'GET', url: `/v1/workspaces/${wsA.id}/inbound-events?format=csv`, headers: { authorization: `Bearer ${keyA}` } })).body, { columns: true }) as unknown[];
    expect(everything).toHaveLength(all.length);
  });

});

describe('health', () => {
  test('received and rejected are counted per day and by reason; older days appear in by_day only', async () => {
    const src = await source(t, wsA.id, { provider: 'standard' });
    const signed = (n: number) => {
      const body = JSON.stringify({ type: 'lead.updated', data: { n } });
      const id = `msg_health_${n}`;
      const now = new Date();
      return { body, headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new StandardWebhook(src.secret!).sign(id, now, body) } };
    };
    for (const n of [1, 2]) {
      const { body, headers } = signed(n);
      await accepted(t, src.id, body, headers);
    }
    const bad = signed(3);
    for (const forged of ['v1,' + Buffer.alloc(32).toString('base64'), 'v1,' + Buffer.alloc(32, 1).toString('base64')]) {
      const res = await post(t, src.id, bad.body, { ...bad.headers, 'webhook-signature': forged });
      expect(res.statusCode).toBe(401);
    }
    const { 'webhook-signature': _drop, ...unsigned } = bad.headers;
    expect((await post(t, src.id, bad.body, unsigned)).statusCode).toBe(401);
    // two days ago: 3 received and 1 rejected, outside the 24 h window
    const old = new Date(Date.now() - 2 * DAY);
    for (let i = 0; i < 3; i++) await backdated(t, src, wsA.id, old);
    await sql`insert into inbound_rejections (workspace_id, source_id, reason, received_at) values (${wsA.id}, ${src.id}, 'stale_timestamp', ${old.toISOString()}::timestamptz)`.execute(t.db.database.db);

    const res = await t.call(keyA, 'GET', `/v1/inbound-sources/${src.id}/health`);
    expect(res.status, res.raw).toBe(200);
    const h = res.body as Health;
    expect(h.received_24h).toBe(2);
    expect(h.rejected_24h).toBe(3);
    expect(h.rejections_by_reason).toMatchObject({ bad_signature: 2, missing_signature: 1 });
    expect(h.last_received_at).not.toBeNull();
    expect(Date.now() - Date.parse(h.last_received_at!)).toBeLessThan(60_000);
    expect(h.silent).toBe(false);
    const today = h.by_day.find((d) => d.day.slice(0, 10) === utcDay(new Date()));
    expect(today).toMatchObject({ received: 2, rejected: 3 });
    const then = h.by_day.find((d) => d.day.slice(0, 10) === utcDay(old));
    expect(then).toMatchObject({ received: 3, rejected: 1 });
    expect(h.by_day.reduce((n, d) => n + d.received, 0)).toBe(5);
    expect(h.by_day.reduce((n, d) => n + d.rejected, 0)).toBe(4);
  });

  test('a source without any traffic has zero counts and is not silent', async () => {
    const src = await source(t, wsA.id, { provider: 'http' });
    const h = (await t.call(keyA, 'GET', `/v1/inbound-sources/${src.id}/health`)).body as Health;
    expect(h).toMatchObject({ last_received_at: null, received_24h: 0, rejected_24h: 0, silent: false });
    expect(h.by_day.reduce((n, d) => n + d.received + d.rejected, 0)).toBe(0);
  });
});

describe('the silent-source alert', () => {
  test('a source busy on 3 of the last 7 days and silent past silent_after_s is alerted once per silence, to a gatehouse.* endpoint', async () => {
    const t3 = await createTestApp();
    const rx = await startReceiver();
    const worker = await startDeliveryWorker(t3, { pollMs: 50 });
    try {
      const { workspace } = await seedWorkspace(t3);
      const ep = await t3.call(t3.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `${rx.url}/ops`, events: ['gatehouse.*'] });
      expect(ep.status, ep.raw).toBe(201);
      const now = Date.now();
      const at = (ms: number) => new Date(now - ms);
      // silent: 3 busy days, last 25 h ago, silent after 1 h
      const silent = await source(t3, workspace.id, { provider: 'http', silent_after_s: 3600 });
      for (const d of [1, 2, 3]) await backdated(t3, silent, workspace.id, at(d * DAY + HOUR));
      // silent by the default (2 h given below): 3 busy days, last 3 h ago
      const byDefault = await source(t3, workspace.id, { provider: 'http' });
      for (const ms of [3 * HOUR, 2 * DAY, 4 * DAY]) await backdated(t3, byDefault, workspace.id, at(ms));
      // not enough history: 2 busy days only
      const sparse = await source(t3, workspace.id, { provider: 'http', silent_after_s: 3600 });
      for (const d of [1, 2]) await backdated(t3, sparse, workspace.id, at(d * DAY + HOUR));
      // busy, but heard from 10 minutes ago
      const alive = await source(t3, workspace.id, { provider: 'http', silent_after_s: 3600 });
      for (const ms of [10 * 60_000, 2 * DAY, 3 * DAY]) await backdated(t3, alive, workspace.id, at(ms));
      // busy, but only long ago (8, 9, 10 days): not "3 of the last 7 days"
      const stale = await source(t3, workspace.id, { provider: 'http', silent_after_s: 3600 });
      for (const d of [8, 9, 10]) await backdated(t3, stale, workspace.id, at(d * DAY));

      expect(await alertSilentSources(t3.db.database.db, 2 * 3600)).toBe(2);
      await rx.waitFor(2);
      expect(await finishedDeliveries(t3, { workspaceId: workspace.id })).toHaveLength(2);
      expect(rx.received).toHaveLength(2);
      const alerts = rx.received.map((r) => new StandardWebhook(ep.body.secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> });
      expect(alerts.map((a) => a.type)).toEqual(['gatehouse.inbound.silent', 'gatehouse.inbound.silent']);
      const about = alerts.map((a) => JSON.stringify(a.data));
      expect(about.filter((s) => s.includes(silent.id))).toHaveLength(1);
      expect(about.filter((s) => s.includes(byDefault.id))).toHaveLength(1);
      for (const other of [sparse, alive, stale]) expect(about.some((s) => s.includes(other.id))).toBe(false);
      const health = async (id: string) => ((await t3.call(t3.adminKey, 'GET', `/v1/inbound-sources/${id}/health`)).body as Health).silent;
      expect(await health(silent.id)).toBe(true);
      expect(await health(alive.id)).toBe(false);

      // the same silence is not alerted twice: nothing published, so nothing to deliver
      expect(await alertSilentSources(t3.db.database.db, 2 * 3600)).toBe(0);
      expect(await finishedDeliveries(t3, { workspaceId: workspace.id })).toHaveLength(2);
      expect(rx.received).toHaveLength(2);

      // a new silence is: the alert went out 3 h ago, the source spoke 2 h ago and has been quiet since
      await sql`update inbound_sources set silent_alerted_at = now() - interval '3 hours' where id = ${silent.id}`.execute(t3.db.database.db);
      await backdated(t3, silent, workspace.id, at(2 * HOUR));
      expect(await alertSilentSources(t3.db.database.db, 2 * 3600)).toBe(1);
      await rx.waitFor(3);
      const third = new StandardWebhook(ep.body.secret).verify(rx.received[2].body, rx.received[2].headers as Record<string, string>) as { type: string; data: unknown };
      expect(third.type).toBe('gatehouse.inbound.silent');
      expect(JSON.stringify(third.data)).toContain(silent.id);
    } finally {
      await worker.stop();
      await rx.close();
      await t3.close();
    }
  });
});

// Last: these call replay.
describe('access', () => {
  test('an inbound:read key lists but cannot replay (403); a webhooks:* key reaches none of it', async () => {
    const ro = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsA.id}/api-keys`, { name: 'ro', scopes: ['inbound:read'] });
    expect(ro.status, ro.raw).toBe(201);
    expect((await t.call(ro.body.key, 'GET', `/v1/workspaces/${wsA.id}/inbound-events`)).status).toBe(200);
    expect((await t.call(ro.body.key, 'POST', `/v1/inbound-events/${created[0]}/replay`)).status).toBe(403);
    const outbound = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsA.id}/api-keys`, { name: 'outbound', scopes: ['webhooks:*'] });
    expect((await t.call(outbound.body.key, 'GET', `/v1/workspaces/${wsA.id}/inbound-sources`)).status).toBe(403);
  });

  test("another workspace's key gets 404 for the list, an event, its replay and the sources", async () => {
    const evId = created[0];
    const checks: Array<[string, string]> = [
      ['GET', `/v1/workspaces/${wsA.id}/inbound-events`],
      ['GET', `/v1/workspaces/${wsA.id}/inbound-events?format=csv`],
      ['GET', `/v1/inbound-events/${evId}`],
      ['GET', `/v1/workspaces/${wsA.id}/inbound-sources`],
      ['GET', `/v1/inbound-sources/${s1.id}`],
      ['GET', `/v1/inbound-sources/${s1.id}/health`],
      ['PATCH', `/v1/inbound-sources/${s1.id}`],
      ['POST', `/v1/inbound-sources/${s1.id}/rotate-secret`],
      ['DELETE', `/v1/inbound-sources/${s1.id}`],
    ];
    for (const [method, url] of checks) {
      const body = method === 'PATCH' ? { name: 'stolen' } : method === 'POST' ? {} : undefined;
      const res = await t.call(keyB, method as 'GET', url, body);
      expect(res.status, `${method} ${url}: ${res.raw}`).toBe(404);
    }
    // nothing changed, and the owner still sees it all
    for (const [method, url] of checks.filter(([m]) => m === 'GET')) {
      expect((await t.call(keyA, 'GET', url)).status, url).toBe(200);
    }
    expect((await t.call(keyA, 'GET', `/v1/inbound-sources/${s1.id}`)).body.name).not.toBe('stolen');
    // B's own list holds none of A's events
    const mine = await t.call(keyB, 'GET', `/v1/workspaces/${wsB.id}/inbound-events`);
    expect(mine.status, mine.raw).toBe(200);
    expect(mine.body.data).toEqual([]);
    // last: a replay that hangs (PGlite) blocks everything after it
    const replay = await t.call(keyB, 'POST', `/v1/inbound-events/${evId}/replay`, {});
    expect(replay.status, replay.raw).toBe(404);
    expect((await t.call(keyA, 'GET', `/v1/inbound-events/${evId}`)).body.replays).toBe(0);
  });
});
