import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishMany } from '../../src/modules/webhooks/publish.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Concurrent accepts share one statement (group commit). No delivery worker runs: the deliveries
// stay pending, so the tests read exactly what acceptance wrote. A statement's rows share one
// transaction id (xmin), which is how the tests tell how many statements wrote the events.
let t: TestApp;
let ws: { id: string };
let key: string;
// lead.created reaches `leads` and `created`; lead.replied only `leads`; `mailer` takes neither by
// its filter; `off` is disabled and gets nothing, even when broadcast to or named.
const eps: Record<'leads' | 'created' | 'mailer' | 'off', string> = { leads: '', created: '', mailer: '', off: '' };

beforeAll(async () => {
  t = await createTestApp();
  ({ workspace: ws, key } = await seedWorkspace(t));
  const make = async (events: string[], extra: Record<string, unknown> = {}) => {
    const res = await t.call(key, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: 'http://127.0.0.1:9/hook', events, ...extra });
    expect(res.status, res.raw).toBe(201);
    return res.body.id as string;
  };
  eps.leads = await make(['lead.*']);
  eps.created = await make(['lead.created']);
  eps.mailer = await make(['email.*'], { name: 'mailer' });
  eps.off = await make(['*'], { enabled: false });
});
afterAll(async () => {
  await t?.close();
});

type Accepted = { event_id: string; duplicate: boolean; deliveries: number };
async function send(body: Record<string, unknown>) {
  const res = await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { payload: {}, ...body });
  expect(res.status, res.raw).toBe(202);
  return res.body as Accepted;
}

/** Each event's deliveries as written: endpoint ids and delivery ids, and the transaction ids. */
async function written(eventIds: string[]) {
  const db = t.db.database.db;
  const events = await sql<{ id: string; xmin: string }>`select id, xmin::text as xmin from events where id = any(${eventIds})`.execute(db);
  const deliveries = await sql<{ id: string; event_id: string; endpoint_id: string; xmin: string }>`
    select id, event_id, endpoint_id, xmin::text as xmin from webhook_deliveries where event_id = any(${eventIds}) order by endpoint_id`.execute(db);
  const xminOf = new Map(events.rows.map((e) => [e.id, e.xmin]));
  return {
    count: events.rows.length,
    statements: new Set(events.rows.map((e) => e.xmin)).size,
    endpointsOf: (eventId: string) => deliveries.rows.filter((d) => d.event_id === eventId).map((d) => d.endpoint_id),
    deliveryIdsOf: (eventId: string) => deliveries.rows.filter((d) => d.event_id === eventId).map((d) => d.id),
    // Event and deliveries in one statement: the outbox holds per event, batched or not.
    allWithTheirEvent: deliveries.rows.every((d) => d.xmin === xminOf.get(d.event_id)),
  };
}

/** The delivery ids an event to these endpoints (in id order) must get: numbered by that order. */
const expected = (eventId: string, endpointIds: string[]) => endpointIds.map((_, i) => `dlv_${eventId.slice(4)}_${i + 1}`);

describe('group commit of accepted events', () => {
  test('50 concurrent events: all accepted with their own ids and deliveries, in fewer statements than events', async () => {
    const types = Array.from({ length: 50 }, (_, i) => (i % 2 ? 'lead.replied' : 'lead.created'));
    const results = await Promise.all(types.map((type, i) => send({ type, payload: { i } })));
    const ids = results.map((r) => r.event_id);
    expect(new Set(ids).size).toBe(50);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(results.map((r) => r.deliveries)).toEqual(types.map((type) => (type === 'lead.created' ? 2 : 1)));

    const w = await written(ids);
    expect(w.count).toBe(50);
    types.forEach((type, i) => {
      const want = type === 'lead.created' ? [eps.leads, eps.created].sort() : [eps.leads];
      expect(w.endpointsOf(ids[i])).toEqual(want);
      expect(w.deliveryIdsOf(ids[i])).toEqual(expected(ids[i], want));
    });
    expect(w.allWithTheirEvent).toBe(true);
    expect(w.statements).toBeLessThan(50);
  });

  test('10 concurrent repeats of one idempotency key among 10 events without one: one event for the key, answered to all', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send({ type: 'lead.created', payload: { i }, ...(i % 2 ? { idempotency_key: 'once-only' } : {}) })),
    );
    const repeats = results.filter((_, i) => i % 2);
    const others = results.filter((_, i) => i % 2 === 0);
    expect(new Set(repeats.map((r) => r.event_id)).size).toBe(1);
    expect(repeats.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(repeats.filter((r) => r.duplicate).every((r) => r.deliveries === 0)).toBe(true);
    expect(repeats.find((r) => !r.duplicate)!.deliveries).toBe(2);
    expect(new Set(others.map((r) => r.event_id)).size).toBe(10);
    expect(others.every((r) => !r.duplicate && r.deliveries === 2)).toBe(true);
    expect(others.map((r) => r.event_id)).not.toContain(repeats[0].event_id);

    const keyed = await t.db.database.db.selectFrom('events').select('id').where('workspace_id', '=', ws.id).where('idempotency_key', '=', 'once-only').execute();
    expect(keyed.map((e) => e.id)).toEqual([repeats[0].event_id]);
    const w = await written([repeats[0].event_id]);
    expect(w.endpointsOf(repeats[0].event_id)).toEqual([eps.leads, eps.created].sort());
  });

  test('a named endpoint, a broadcast and a filter in one burst: each event gets its own endpoints', async () => {
    const bursts = await Promise.all(
      Array.from({ length: 5 }, () =>
        Promise.all([
          send({ type: 'lead.created', endpoint: 'mailer' }),
          send({ type: 'lead.created', broadcast: true }),
          send({ type: 'lead.created' }),
          send({ type: 'lead.replied' }),
          send({ type: 'lead.created', endpoint: eps.off }),
        ]),
      ),
    );
    const want = [[eps.mailer], [eps.leads, eps.created, eps.mailer], [eps.leads, eps.created], [eps.leads], []].map((e) => e.sort());
    const w = await written(bursts.flat().map((r) => r.event_id));
    for (const burst of bursts) {
      burst.forEach((r, i) => {
        expect(r.deliveries).toBe(want[i].length);
        expect(w.endpointsOf(r.event_id)).toEqual(want[i]);
        expect(w.deliveryIdsOf(r.event_id)).toEqual(expected(r.event_id, want[i]));
      });
    }
  });

  test('an event that cannot be stored fails alone; the events batched with it are accepted', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'lead.replied', payload: { text: i === 3 ? 'nul \u0000 here' : `ok ${i}` } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map((_, i) => (i === 3 ? 400 : 202)));
    expect(results[3].body.error.code).toBe('validation_failed');
    const w = await written(results.filter((r) => r.status === 202).map((r) => r.body.event_id));
    expect(w.count).toBe(9);
  });
});

describe('publishMany: one statement for any mix', () => {
  test('targets, filters, keys repeated in the batch or earlier, and keyless events', async () => {
    const db = t.db.database.db;
    const earlier = await send({ type: 'lead.replied', idempotency_key: 'earlier' });
    const ev = (type: string, extra: Record<string, unknown> = {}) => ({ workspaceId: ws.id, type, payload: { type }, ...extra });
    const out = await publishMany(db, [
      ev('lead.created', { target: { endpointId: eps.mailer }, idempotencyKey: 'batch-key' }),
      ev('lead.created', { target: 'broadcast' as const }),
      ev('lead.replied', { idempotencyKey: null }),
      ev('lead.replied', { idempotencyKey: 'batch-key' }),
      ev('lead.created', { idempotencyKey: 'earlier' }),
      ev('email.sent', { traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    ]);
    expect(out.map((o) => [o.duplicate, o.deliveries.length])).toEqual([[false, 1], [false, 3], [false, 1], [true, 0], [true, 0], [false, 1]]);
    expect(out[3].eventId).toBe(out[0].eventId);
    expect(out[4].eventId).toBe(earlier.event_id);
    expect(new Set([0, 1, 2, 5].map((i) => out[i].eventId)).size).toBe(4);

    const w = await written(out.map((o) => o.eventId));
    expect(w.count).toBe(5);
    expect(w.statements).toBe(2); // this batch, and the earlier event
    const want = [[eps.mailer], [eps.leads, eps.created, eps.mailer].sort(), [eps.leads], [], [], [eps.mailer]];
    out.forEach((o, i) => {
      if (o.duplicate) return;
      expect(w.endpointsOf(o.eventId)).toEqual(want[i]);
      expect(w.deliveryIdsOf(o.eventId)).toEqual(expected(o.eventId, want[i]));
      expect([...o.deliveries].sort()).toEqual(expected(o.eventId, want[i]).sort());
    });
    const traced = await db.selectFrom('events').select('trace_parent').where('id', '=', out[5].eventId).executeTakeFirstOrThrow();
    expect(traced.trace_parent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });
});
