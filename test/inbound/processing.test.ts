import { createHash, createHmac, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startInboundWorker } from '../helpers/inbound.js';
import { eventually, startDeliveryWorker, startReceiver, type Received, type Receiver } from '../helpers/webhooks.js';

// Inbound processing end to end: provider requests go in through POST /hooks/:source_id (app.inject),
// an in-process inbound worker turns them into Gatehouse events, and a delivery worker POSTs those to
// a real receiver on loopback. Requests are signed here with node:crypto (or the standardwebhooks
// package), never with src code. Signature verification itself is tested in verify*.test.ts.
const PUBLIC_URL = 'https://hooks.gatehouse.test';
const RETRY = [0.2, 0.4];
let t: TestApp;
let ws: { id: string };
let rx: Receiver;
let delivery: DeliveryWorker;
let inbound: { stop(): Promise<void> };
let catchAll: { id: string; secret: string };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type InboundEvent = {
  id: string; source_id: string; status: string; event_types: string[] | null; provider_type: string | null; attempts: number;
  last_error: string | null; body?: string; content_type?: string; headers?: Record<string, string>; source_ip?: string; user_agent?: string | null;
};
type Outbound = { type: string; timestamp: string; data: { inbound_event_id: string; source: { id: string; provider: string; name: string }; provider_type: string; data: any } };

// ---- signing, per PROVIDERS.md -------------------------------------------------------------------
const twilioSignature = (token: string, url: string, params: Record<string, string>) =>
  createHmac('sha1', token).update(url + Object.keys(params).sort().map((k) => k + params[k]).join('')).digest('base64');
const metaSignature = (secret: string, body: string) => 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
function vonageJwt(secret: string, body: string) {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ iat: Math.floor(Date.now() / 1000), jti: randomUUID(), payload_hash: createHash('sha256').update(body).digest('hex') })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
function standardHeaders(secret: string, body: string, msgId = `msg_${randomUUID()}`) {
  const now = new Date();
  return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new StandardWebhook(secret).sign(msgId, now, body) };
}

// ---- helpers -------------------------------------------------------------------------------------
async function source(app: TestApp, wsId: string, input: Record<string, unknown>) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/inbound-sources`, { name: `src-${randomUUID().slice(0, 8)}`, ...input });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret?: string; provider: string; name: string };
}
async function post(app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}, path = '') {
  const res = await app.app.inject({
    method: 'POST',
    url: `/hooks/${sourceId}${path}`,
    payload: body,
    headers: { 'content-type': 'application/json', 'user-agent': 'provider-test/1.0', ...headers },
  });
  return res;
}
async function accepted(app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}, path = '') {
  const res = await post(app, sourceId, body, headers, path);
  expect(res.statusCode, res.body).toBe(200);
  const id = res.headers['x-gatehouse-inbound-event'] as string;
  expect(id).toBeTruthy();
  return id;
}
const getEvent = async (app: TestApp, id: string) => {
  const res = await app.call(app.adminKey, 'GET', `/v1/inbound-events/${id}`);
  expect(res.status, res.raw).toBe(200);
  return res.body as InboundEvent;
};
const settled = (app: TestApp, id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    const e = await getEvent(app, id);
    return ['processed', 'ignored', 'failed'].includes(e.status) ? e : null;
  }, timeoutMs);
async function endpoint(app: TestApp, wsId: string, path: string, events: string[]) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${rx.url}${path}`, events });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string };
}
/** The messages the receiver got on `path`, verified with the endpoint's secret, optionally only those of one inbound event. */
function messages(path: string, secret: string, inboundId?: string): Outbound[] {
  return rx.received
    .filter((r) => r.url === path)
    .map((r) => new StandardWebhook(secret).verify(r.body, r.headers as Record<string, string>) as Outbound)
    .filter((m) => inboundId === undefined || m.data?.inbound_event_id === inboundId);
}
const publishedFor = (inboundId: string, n: number) =>
  eventually(async () => {
    const got = messages('/all', catchAll.secret, inboundId);
    return got.length >= n ? got : null;
  });

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL });
  ({ workspace: ws } = await seedWorkspace(t));
  rx = await startReceiver();
  catchAll = await endpoint(t, ws.id, '/all', ['*']);
  delivery = await startDeliveryWorker(t, { retryScheduleS: [0.05, 0.1], pollMs: 50 });
  inbound = await startInboundWorker(t, { pollMs: 50, retryScheduleS: RETRY });
});
afterAll(async () => {
  await inbound?.stop();
  await delivery?.stop();
  await rx?.close();
  await t?.close();
});

describe('normalisation per provider', () => {
  test('emailbison: LEAD_INTERESTED → lead.interested, EMAIL_SENT → email.sent, TAG_ATTACHED → ignored', async () => {
    const src = await source(t, ws.id, { provider: 'emailbison', provider_workspace_id: '7' });
    const bison = (type: string, n: number) =>
      JSON.stringify({ event: { type, name: type.toLowerCase(), workspace_id: 7, workspace_name: 'Acme' }, data: { lead: { id: n, email: `lead${n}@example.com` }, campaign: { id: 3 } } });
    const interested = await accepted(t, src.id, bison('LEAD_INTERESTED', 1));
    const sent = await accepted(t, src.id, bison('EMAIL_SENT', 2));
    const tag = await accepted(t, src.id, bison('TAG_ATTACHED', 3));
    expect(await settled(t, interested)).toMatchObject({ status: 'processed', event_types: ['lead.interested'], provider_type: 'LEAD_INTERESTED' });
    expect(await settled(t, sent)).toMatchObject({ status: 'processed', event_types: ['email.sent'], provider_type: 'EMAIL_SENT' });
    const ignored = await settled(t, tag);
    expect(ignored.status).toBe('ignored');
    expect(ignored.provider_type).toBe('TAG_ATTACHED');

    const [m] = await publishedFor(interested, 1);
    expect(m.type).toBe('lead.interested');
    expect(m.data).toMatchObject({ inbound_event_id: interested, source: { id: src.id, provider: 'emailbison', name: src.name }, provider_type: 'LEAD_INTERESTED' });
    expect(m.data.data).toEqual(JSON.parse(bison('LEAD_INTERESTED', 1)));
    expect((await publishedFor(sent, 1))[0].type).toBe('email.sent');
    await sleep(300); // the ignored one is never published
    expect(messages('/all', catchAll.secret, tag)).toHaveLength(0);
  });

  test('twilio (form-encoded): SmsStatus=received → sms.received, MessageStatus=delivered → message.status; answers empty TwiML', async () => {
    const token = `tw_${randomUUID()}`;
    const src = await source(t, ws.id, { provider: 'twilio', secret: token });
    const url = `${t.config.publicUrl}/hooks/${src.id}`;
    const send = async (params: Record<string, string>) => {
      const res = await post(t, src.id, new URLSearchParams(params).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(token, url, params),
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/xml/);
      expect(res.body).toMatch(/<Response\s*\/>|<Response><\/Response>/);
      return res.headers['x-gatehouse-inbound-event'] as string;
    };
    const base = { AccountSid: 'AC123', From: '+15550001111', To: '+15550002222' };
    const sms = await send({ ...base, MessageSid: 'SM1', SmsSid: 'SM1', SmsStatus: 'received', Body: 'hello there' });
    const status = await send({ ...base, MessageSid: 'SM2', MessageStatus: 'delivered' });
    expect(sms).toBeTruthy();
    expect(await settled(t, sms)).toMatchObject({ status: 'processed', event_types: ['sms.received'] });
    expect(await settled(t, status)).toMatchObject({ status: 'processed', event_types: ['message.status'] });
    const [m] = await publishedFor(sms, 1);
    expect(m.type).toBe('sms.received');
    expect(m.data.source.provider).toBe('twilio');
    expect(m.data.data).toMatchObject({ Body: 'hello there', MessageSid: 'SM1' });
    const [s] = await publishedFor(status, 1);
    expect(s.type).toBe('message.status');
    expect(s.data.data).toMatchObject({ MessageStatus: 'delivered', MessageSid: 'SM2' });
  });

  test('whatsapp: one batch with 2 messages and 1 status → three outbound events, each with its own item', async () => {
    const appSecret = `meta_${randomUUID()}`;
    const src = await source(t, ws.id, { provider: 'whatsapp', secret: appSecret });
    const msg = (id: string, text: string) => ({ from: '15550003333', id, timestamp: '1700000000', type: 'text', text: { body: text } });
    const st = { id: 'wamid.OUT1', status: 'delivered', timestamp: '1700000001', recipient_id: '15550003333' };
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: 'WABA1', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: '15550009999', phone_number_id: 'PN1' },
        messages: [msg('wamid.IN1', 'héllo'), msg('wamid.IN2', 'second')], statuses: [st],
      } }] }],
    });
    const id = await accepted(t, src.id, body, { 'x-hub-signature-256': metaSignature(appSecret, body) });
    expect((await settled(t, id)).status).toBe('processed');
    const got = await publishedFor(id, 3);
    await sleep(300);
    expect(messages('/all', catchAll.secret, id)).toHaveLength(3); // not more
    const received = got.filter((m) => m.type === 'message.received').map((m) => m.data.data);
    expect(received).toHaveLength(2);
    expect(received.map((d) => d.id).sort()).toEqual(['wamid.IN1', 'wamid.IN2']);
    expect(received.find((d) => d.id === 'wamid.IN1')).toEqual(msg('wamid.IN1', 'héllo'));
    const statuses = got.filter((m) => m.type === 'message.status');
    expect(statuses).toHaveLength(1);
    expect(statuses[0].data.data).toEqual(st);
    for (const m of got) expect(m.data).toMatchObject({ inbound_event_id: id, source: { id: src.id, provider: 'whatsapp' } });
  });

  test('vonage: status → message.status, channel sms → sms.received, another channel → message.received', async () => {
    const secret = `vn_${randomUUID()}`;
    const src = await source(t, ws.id, { provider: 'vonage', secret });
    const send = (payload: unknown) => {
      const body = JSON.stringify(payload);
      return accepted(t, src.id, body, { authorization: `Bearer ${vonageJwt(secret, body)}` });
    };
    const status = await send({ message_uuid: 'u1', to: '447700900000', from: 'Acme', timestamp: '2026-01-01T00:00:00Z', status: 'delivered', channel: 'sms' });
    const sms = await send({ message_uuid: 'u2', to: 'Acme', from: '447700900001', channel: 'sms', message_type: 'text', text: 'hi', timestamp: '2026-01-01T00:00:01Z' });
    const wa = await send({ message_uuid: 'u3', to: 'Acme', from: '447700900002', channel: 'whatsapp', message_type: 'text', text: 'hey', timestamp: '2026-01-01T00:00:02Z' });
    expect(await settled(t, status)).toMatchObject({ status: 'processed', event_types: ['message.status'] });
    expect(await settled(t, sms)).toMatchObject({ status: 'processed', event_types: ['sms.received'] });
    expect(await settled(t, wa)).toMatchObject({ status: 'processed', event_types: ['message.received'] });
    expect((await publishedFor(status, 1))[0]).toMatchObject({ type: 'message.status', data: { data: { message_uuid: 'u1' } } });
    expect((await publishedFor(sms, 1))[0]).toMatchObject({ type: 'sms.received', data: { data: { message_uuid: 'u2' } } });
    expect((await publishedFor(wa, 1))[0]).toMatchObject({ type: 'message.received', data: { data: { message_uuid: 'u3' } } });
  });

  test('vapi: status-update → call.status, end-of-call-report → call.ended, other types ignored', async () => {
    const secret = `vapi_${randomUUID()}`;
    const src = await source(t, ws.id, { provider: 'vapi', secret });
    const send = (type: string, extra: Record<string, unknown> = {}) =>
      accepted(t, src.id, JSON.stringify({ message: { type, call: { id: `call_${type}` }, ...extra } }), { 'x-vapi-secret': secret });
    const status = await send('status-update', { status: 'in-progress' });
    const ended = await send('end-of-call-report', { endedReason: 'hangup' });
    const transcript = await send('transcript', { transcript: 'hello' });
    expect(await settled(t, status)).toMatchObject({ status: 'processed', event_types: ['call.status'], provider_type: 'status-update' });
    expect(await settled(t, ended)).toMatchObject({ status: 'processed', event_types: ['call.ended'], provider_type: 'end-of-call-report' });
    expect((await settled(t, transcript)).status).toBe('ignored');
    const [m] = await publishedFor(ended, 1);
    expect(m).toMatchObject({ type: 'call.ended', data: { provider_type: 'end-of-call-report', data: { message: { type: 'end-of-call-report', endedReason: 'hangup' } } } });
    await sleep(300);
    expect(messages('/all', catchAll.secret, transcript)).toHaveLength(0);
  });

  test('standard: a catalog type → that type (built-in or registered), an unknown type → ignored', async () => {
    const src = await source(t, ws.id, { provider: 'standard' });
    expect(src.secret).toMatch(/^whsec_/);
    const reg = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/event-types`, { name: 'deal.won', description: 'custom' });
    expect(reg.status, reg.raw).toBeLessThan(300);
    const send = (payload: unknown) => {
      const body = JSON.stringify(payload);
      return accepted(t, src.id, body, standardHeaders(src.secret!, body));
    };
    const builtIn = await send({ type: 'meeting.booked', data: { meeting: 9 } });
    const custom = await send({ type: 'deal.won', data: { deal: 1 } });
    const unknown = await send({ type: 'nothing.like.this', data: {} });
    expect(await settled(t, builtIn)).toMatchObject({ status: 'processed', event_types: ['meeting.booked'] });
    expect(await settled(t, custom)).toMatchObject({ status: 'processed', event_types: ['deal.won'] });
    expect((await settled(t, unknown)).status).toBe('ignored');
    expect((await publishedFor(builtIn, 1))[0]).toMatchObject({ type: 'meeting.booked', data: { source: { provider: 'standard' }, data: { type: 'meeting.booked', data: { meeting: 9 } } } });
    expect((await publishedFor(custom, 1))[0].type).toBe('deal.won');
    await sleep(300);
    expect(messages('/all', catchAll.secret, unknown)).toHaveLength(0);
  });

  test('http: a catalog type is published; a payload without one is ignored', async () => {
    const src = await source(t, ws.id, { provider: 'http' });
    const known = await accepted(t, src.id, JSON.stringify({ type: 'campaign.paused', campaign: 4 }));
    const none = await accepted(t, src.id, JSON.stringify({ hello: 'world' }));
    expect(await settled(t, known)).toMatchObject({ status: 'processed', event_types: ['campaign.paused'] });
    expect((await settled(t, none)).status).toBe('ignored');
    expect((await publishedFor(known, 1))[0].data.data).toEqual({ type: 'campaign.paused', campaign: 4 });
  });
});

describe("the source's events filter", () => {
  test('a type outside the source\'s events is ignored and not published; one inside is processed', async () => {
    const src = await source(t, ws.id, { provider: 'emailbison', provider_workspace_id: '9', events: ['lead.interested'] });
    const bison = (type: string) => JSON.stringify({ event: { type, name: type, workspace_id: 9, workspace_name: 'F' }, data: { lead: { id: type } } });
    const kept = await accepted(t, src.id, bison('LEAD_INTERESTED'));
    const dropped = await accepted(t, src.id, bison('EMAIL_SENT'));
    expect((await settled(t, kept)).status).toBe('processed');
    expect((await settled(t, dropped)).status).toBe('ignored');
    await publishedFor(kept, 1);
    await sleep(300);
    expect(messages('/all', catchAll.secret, dropped)).toHaveLength(0);
  });
});

describe('fan-out to outbound endpoints', () => {
  test("a lead.* endpoint gets the normalised event, verifiable with standardwebhooks and svix, and nothing outside its filter", async () => {
    const ep = await endpoint(t, ws.id, '/leads', ['lead.*']);
    const src = await source(t, ws.id, { provider: 'emailbison', provider_workspace_id: '8' });
    const payload = { event: { type: 'LEAD_REPLIED', name: 'Lead Replied', workspace_id: 8, workspace_name: 'Fan' }, data: { lead: { id: 77 }, reply: { text: 'yes — héllo' } } };
    const id = await accepted(t, src.id, JSON.stringify(payload));
    const notLead = await accepted(t, src.id, JSON.stringify({ ...payload, event: { ...payload.event, type: 'EMAIL_OPENED' } }));
    await eventually(async () => rx.received.some((r) => r.url === '/leads'));
    const req = rx.received.find((r) => r.url === '/leads') as Received;
    const headers = req.headers as Record<string, string>;
    const viaStandard = new StandardWebhook(ep.secret).verify(req.body, headers) as Outbound;
    const viaSvix = new SvixWebhook(ep.secret).verify(req.body, headers) as Outbound;
    expect(viaSvix).toEqual(viaStandard);
    expect(viaStandard.type).toBe('lead.replied');
    expect(viaStandard.data).toMatchObject({ inbound_event_id: id, source: { id: src.id, provider: 'emailbison', name: src.name }, provider_type: 'LEAD_REPLIED' });
    expect(viaStandard.data.source).toEqual({ id: src.id, provider: 'emailbison', name: src.name });
    expect(viaStandard.data.data).toEqual(payload);
    expect(() => new StandardWebhook(catchAll.secret).verify(req.body, headers)).toThrow();
    // EMAIL_OPENED → email.opened reaches the catch-all, never the lead.* endpoint
    expect((await publishedFor(notLead, 1))[0].type).toBe('email.opened');
    await sleep(300);
    expect(rx.received.filter((r) => r.url === '/leads')).toHaveLength(1);
  });
});

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
    expect((await settled(t, bodies[0].id)).status).toBe('processed');
    await publishedFor(bodies[0].id, 1);
    await sleep(300);
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
      await sleep(300); // no worker runs: nothing moves
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
        expect((await settled(t2, expired)).status).toBe('processed');
        await sleep(500);
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
      await sleep(RETRY[RETRY.length - 1] * 1000 + 300);
      expect((await getEvent(t, failedId)).attempts).toBe(RETRY.length + 1); // no more attempts once failed
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
    await publishedFor(id, 1);
    await sleep(300);
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
