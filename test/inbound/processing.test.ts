import { randomUUID } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { eventually, type Received, type Receiver } from '../helpers/webhooks.js';
import { accepted, endpoint, finishedDeliveries, flow, messages, metaSignature, type Outbound, post, publishedFor, settled, settledUnpublished, source, standardHeaders, startFlow, stopFlow, twilioSignature, vonageJwt } from '../helpers/inbound-flow.js';

// Inbound processing: each provider's payloads normalised to Gatehouse types, the source's filter,
// and fan-out to the workspace's own endpoints (see helpers/inbound-flow.ts for the harness).
let t: TestApp;
let ws: { id: string };
let rx: Receiver;
let catchAll: { id: string; secret: string };

beforeAll(async () => {
  await startFlow();
  ({ t, ws, rx, catchAll } = flow);
});
afterAll(stopFlow);

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
    const ignored = await settledUnpublished(t, tag);
    expect(ignored.status).toBe('ignored');
    expect(ignored.provider_type).toBe('TAG_ATTACHED');

    const [m] = await publishedFor(interested, 1);
    expect(m.type).toBe('lead.interested');
    expect(m.data).toMatchObject({ inbound_event_id: interested, source: { id: src.id, provider: 'emailbison', name: src.name }, provider_type: 'LEAD_INTERESTED' });
    expect(m.data.data).toEqual(JSON.parse(bison('LEAD_INTERESTED', 1)));
    expect((await publishedFor(sent, 1))[0].type).toBe('email.sent');
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
    const processed = await settled(t, id);
    expect(processed.status).toBe('processed');
    expect(processed.published_event_ids).toHaveLength(3);
    const got = await publishedFor(id, 3);
    // Every delivery of the three finished: the receiver has all it will ever get of them.
    expect((await finishedDeliveries(t, processed.published_event_ids)).map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
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
    expect((await settledUnpublished(t, transcript)).status).toBe('ignored');
    const [m] = await publishedFor(ended, 1);
    expect(m).toMatchObject({ type: 'call.ended', data: { provider_type: 'end-of-call-report', data: { message: { type: 'end-of-call-report', endedReason: 'hangup' } } } });
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
    expect((await settledUnpublished(t, unknown)).status).toBe('ignored');
    expect((await publishedFor(builtIn, 1))[0]).toMatchObject({ type: 'meeting.booked', data: { source: { provider: 'standard' }, data: { type: 'meeting.booked', data: { meeting: 9 } } } });
    expect((await publishedFor(custom, 1))[0].type).toBe('deal.won');
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
    expect((await settledUnpublished(t, dropped)).status).toBe('ignored');
    await publishedFor(kept, 1);
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
    // Both events' deliveries are finished, and the one outside the filter had none to /leads.
    const outbound = [...(await settled(t, id)).published_event_ids, ...(await settled(t, notLead)).published_event_ids];
    const deliveries = await finishedDeliveries(t, outbound);
    expect(deliveries.filter((d) => d.endpoint_id === ep.id)).toHaveLength(1);
    expect(deliveries.filter((d) => d.endpoint_id === catchAll.id)).toHaveLength(2);
    expect(rx.received.filter((r) => r.url === '/leads')).toHaveLength(1);
  });
});
