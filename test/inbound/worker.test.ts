import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startInboundWorker } from '../helpers/inbound.js';
import { eventually } from '../helpers/webhooks.js';
import { accepted, finishedDeliveries, flow, getEvent, messages, post, publishedFor, RETRY, settled, source, standardHeaders, startFlow, stopFlow } from '../helpers/inbound-flow.js';

// The inbound worker: receiving under concurrency, what a 200 commits, crashes, failures, retries
// and replays (see helpers/inbound-flow.ts for the harness).
let t: TestApp;
let ws: { id: string };
let catchAll: { id: string; secret: string };

beforeAll(async () => {
  await startFlow();
  ({ t, ws, catchAll } = flow);
});
afterAll(stopFlow);

describe('receiving', () => {
  test('30 identical requests at once: all 200, one stored, the others duplicate:true with the same id', async () => {
    const src = await source(t, ws.id, { provider: 'standard' });
    const body = JSON.stringify({ type: 'lead.updated', data: { n: 30 } });
    const headers = standardHeaders(src.secret!, body, 'msg_dup_concurrent');
    const all = await Promise.all(Array.from({ length: 30 }, () => post(t, src.id, body, headers)));
    for (const r of all) expect(r.statusCode, r.body).toBe(200);
    const bodies = all.map((r) => JSON.parse(r.body) as { id: string; duplicate: boolean });
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    expect(bodies.filter((b) => b.duplicate)).toHaveLength(29);
    expect(new Set(all.map((r) => r.headers['x-gatehouse-inbound-event']))).toEqual(new Set([bodies[0].id]));
    const stored = await sql<{ n: string }>`select count(*) as n from inbound_events where source_id = ${src.id}`.execute(t.db.database.db);
    expect(Number(stored.rows[0].n)).toBe(1);
    // and it is published once
    const done = await settled(t, bodies[0].id);
    expect(done.status).toBe('processed');
    expect(done.published_event_ids).toHaveLength(1);
    await publishedFor(bodies[0].id, 1);
    expect((await finishedDeliveries(t, done.published_event_ids)).map((d) => d.status)).toEqual(['succeeded']);
    expect(messages('/all', catchAll.secret, bodies[0].id)).toHaveLength(1);
  });

  test('a 200 means committed: the event is readable at once with its raw body, content type, headers, IP and user agent', async () => {
    const src = await source(t, ws.id, { provider: 'standard' });
    const body = '{"type":"lead.created",  "data":{"name":"Zoë"}}'; // odd spacing: the raw bytes, not re-serialised JSON
    const headers = standardHeaders(src.secret!, body, 'msg_commit_1');
    const res = await post(t, src.id, body, { ...headers, 'user-agent': 'Committed-Agent/2.0' });
    expect(res.statusCode, res.body).toBe(200);
    const { id, duplicate } = JSON.parse(res.body);
    expect(duplicate).toBe(false);
    expect(res.headers['x-gatehouse-inbound-event']).toBe(id);
    const ev = await getEvent(t, id);
    expect(ev).toMatchObject({ id, source_id: src.id, body, user_agent: 'Committed-Agent/2.0', source_ip: '127.0.0.1' });
    expect(ev.content_type).toMatch(/^application\/json/);
    expect(ev.headers).toMatchObject({ 'webhook-id': 'msg_commit_1' });
    expect(['pending', 'processing', 'processed']).toContain(ev.status);
  });
});

describe('the inbound worker', () => {
  test('a crash between accept and processing loses nothing: 50 pending events are all processed once a worker starts', async () => {
    const t2 = await createTestApp();
    try {
      const { workspace } = await seedWorkspace(t2);
      const src = await source(t2, workspace.id, { provider: 'http' });
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => accepted(t2, src.id, JSON.stringify({ type: 'lead.created', n: i }))));
      expect(new Set(ids).size).toBe(50);
      // No worker runs in this app: all 50 wait, committed and pending.
      const pending = await t2.call(t2.adminKey, 'GET', `/v1/workspaces/${workspace.id}/inbound-events?status=pending&limit=100`);
      expect(pending.status, pending.raw).toBe(200);
      expect(pending.body.data).toHaveLength(50);
      const w = await startInboundWorker(t2, { pollMs: 50 });
      try {
        await eventually(async () => {
          const done = await t2.call(t2.adminKey, 'GET', `/v1/workspaces/${workspace.id}/inbound-events?status=processed&limit=100`);
          return done.body.data.length === 50;
        }, 20_000);
      } finally {
        await w.stop();
      }
      // each published exactly once
      const published = await sql<{ n: string; distinct_n: string }>`
        select count(*) as n, count(distinct payload->>'inbound_event_id') as distinct_n from events
        where workspace_id = ${workspace.id} and type = 'lead.created'`.execute(t2.db.database.db);
      expect(published.rows[0]).toEqual({ n: '50', distinct_n: '50' });
    } finally {
      await t2.close();
    }
  });

  test('an event whose processing lease expired is processed by a new worker; one with a live lease is left alone', async () => {
    const t2 = await createTestApp();
    try {
      const { workspace } = await seedWorkspace(t2);
      const src = await source(t2, workspace.id, { provider: 'http' });
      const expired = await accepted(t2, src.id, JSON.stringify({ type: 'lead.created', lease: 'expired' }));
      const live = await accepted(t2, src.id, JSON.stringify({ type: 'lead.created', lease: 'live' }));
      // as if a worker claimed both and died: one lease ran out a second ago, the other has an hour left
      await sql`update inbound_events set status = 'processing', locked_until = now() - interval '1 s' where id = ${expired}`.execute(t2.db.database.db);
      await sql`update inbound_events set status = 'processing', locked_until = now() + interval '1 hour' where id = ${live}`.execute(t2.db.database.db);
      const w = await startInboundWorker(t2, { pollMs: 50 });
      try {
        // The reclaim that gave the expired one back to the queue looked at both and passed this one over.
        expect((await settled(t2, expired)).status).toBe('processed');
        expect((await getEvent(t2, live)).status).toBe('processing');
      } finally {
        await w.stop();
      }
    } finally {
      await t2.close();
    }
  });
});

describe('failures and replay', () => {
  // No route makes a well-formed, accepted event fail to process, so the fault is injected in the
  // database: a trigger that refuses to insert an outbound event carrying a marker. Processing then
  // fails on publishing, exactly as it would on a database error.
  const MARKER = 'explode-on-publish';
  const run = async (...statements: string[]) => {
    for (const s of statements) await sql.raw(s).execute(t.db.database.db);
  };
  const installFault = () =>
    run(
      `create or replace function gh_test_refuse_event() returns trigger language plpgsql as $$
       begin
         if new.payload::text like '%${MARKER}%' then raise exception 'injected publish failure'; end if;
         return new;
       end $$`,
      'create trigger gh_test_refuse_event before insert on events for each row execute function gh_test_refuse_event()',
    );
  const removeFault = () => run('drop trigger if exists gh_test_refuse_event on events', 'drop function if exists gh_test_refuse_event()');
  let failedId = '';

  test('processing that keeps failing is retried on the schedule, then failed with last_error', async () => {
    const src = await source(t, ws.id, { provider: 'http' });
    await installFault();
    try {
      const started = Date.now();
      failedId = await accepted(t, src.id, JSON.stringify({ type: 'lead.updated', marker: MARKER }));
      const failed = await eventually(async () => {
        const e = await getEvent(t, failedId);
        return e.status === 'failed' ? e : null;
      }, 15_000);
      const elapsed = Date.now() - started;
      expect(failed.attempts).toBe(RETRY.length + 1);
      expect(failed.last_error).toMatch(/injected publish failure/);
      // backoff: the retries waited out the schedule before failing for good
      expect(elapsed).toBeGreaterThanOrEqual(RETRY.reduce((a, b) => a + b, 0) * 1000 * 0.8);
      // Failed is final: processing claims only pending events, so no attempt follows.
      expect(failed.published_event_ids).toEqual([]);
      expect(messages('/all', catchAll.secret, failedId)).toHaveLength(0);
    } finally {
      await removeFault();
    }
  });

  test('an event that failed once and then succeeds is processed, published once', async () => {
    const src = await source(t, ws.id, { provider: 'http' });
    await installFault();
    let id = '';
    try {
      id = await accepted(t, src.id, JSON.stringify({ type: 'lead.updated', marker: MARKER, run: 2 }));
      await eventually(async () => typeof (await getEvent(t, id)).last_error === 'string', 5_000, 10); // one failure recorded
    } finally {
      await removeFault();
    }
    const done = await settled(t, id);
    expect(done.status).toBe('processed');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.published_event_ids).toHaveLength(1);
    await publishedFor(id, 1);
    await finishedDeliveries(t, done.published_event_ids);
    expect(messages('/all', catchAll.secret, id)).toHaveLength(1);
  });

  // Replays last: on PGlite a hanging replay would block every later test.
  test('replaying the failed event → 202, and it is processed and published', async () => {
    expect(failedId).not.toBe('');
    const replay = await t.call(t.adminKey, 'POST', `/v1/inbound-events/${failedId}/replay`);
    expect(replay.status, replay.raw).toBe(202);
    const done = await eventually(async () => {
      const e = await getEvent(t, failedId);
      return e.status === 'processed' ? e : null;
    });
    expect(done.event_types).toEqual(['lead.updated']);
    expect((await publishedFor(failedId, 1))[0]).toMatchObject({ type: 'lead.updated', data: { data: { marker: MARKER } } });
  });

  test('a replay after processed publishes again', async () => {
    const src = await source(t, ws.id, { provider: 'http' });
    const id = await accepted(t, src.id, JSON.stringify({ type: 'meeting.completed', replay: true }));
    expect((await settled(t, id)).status).toBe('processed');
    const [first] = await publishedFor(id, 1);
    const replay = await t.call(t.adminKey, 'POST', `/v1/inbound-events/${id}/replay`);
    expect(replay.status, replay.raw).toBe(202);
    const both = await publishedFor(id, 2);
    expect(both.map((m) => m.type)).toEqual(['meeting.completed', 'meeting.completed']);
    expect(both[1].data).toEqual(first.data);
    expect((await settled(t, id)).status).toBe('processed');
  });

  test('replaying an unknown event is 404', async () => {
    const res = await t.call(t.adminKey, 'POST', '/v1/inbound-events/iev_doesnotexist/replay');
    expect(res.status, res.raw).toBe(404);
  });
});
