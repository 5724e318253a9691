import { describe, expect, test } from 'vitest';
import {
  h,
  hmacRequest,
  jsonBody,
  marker,
  metaRequest,
  source,
  standardRequest,
  twilioFormRequest,
  twilioJsonRequest,
  twilioSignature,
  PUBLIC_URL,
  unsignedRequest,
  useInboundApp,
  vapiHmacRequest,
  vapiSecretRequest,
  vonageRequest,
  ws,
  type HookRequest,
  type Res,
} from '../helpers/inbound-signers.js';

// A repeat is recognised by what the provider's signature covers, never by a header nothing signs:
// a validly signed request replayed with other unsigned headers is stored once, and its answer is
// the first event's (200, duplicate).

useInboundApp();

/** Headers no provider signs (and idempotency headers some providers send), set to new values. */
const unsignedHeaders = (n: number, withWebhookId = true): Record<string, string> => ({
  'i-twilio-idempotency-token': `idem-${n}-${marker()}`,
  'x-twilio-webhook-retry-count': String(n),
  'idempotency-key': `k-${n}-${marker()}`,
  'x-request-id': `req-${n}`,
  'user-agent': `replayer/${n}`,
  'x-forwarded-for': `203.0.113.${n}`,
  ...(withWebhookId ? { 'webhook-id': `msg_${marker()}` } : {}),
});
const withHeaders = (req: HookRequest, headers: Record<string, string>): HookRequest => ({ ...req, headers: { ...req.headers, ...headers } });

const eventIdOf = (res: Res) => res.headers['x-gatehouse-inbound-event'] as string;

/** The first request is stored; each replay answers 200 with the first id; one event in the source. */
async function expectStoredOnce(sourceId: string, first: HookRequest, replays: HookRequest[]) {
  const res = await h.hook(first);
  expect(res.status, res.raw).toBe(200);
  const id = eventIdOf(res);
  expect(id).toMatch(/^iev_/);
  for (const replay of replays) {
    const again = await h.hook(replay);
    expect(again.status, again.raw).toBe(200);
    expect(eventIdOf(again)).toBe(id);
    // Twilio is answered in TwiML; everyone else gets {id, duplicate}.
    if (typeof again.body === 'object') expect(again.body).toEqual({ id, duplicate: true });
  }
  const events = await h.events(ws.id, sourceId);
  expect(events.map((e) => e.id)).toEqual([id]);
}

describe('twilio: the signed URL and parameters, not I-Twilio-Idempotency-Token', () => {
  const params = (m: string) => ({ AccountSid: 'AC0123', MessageSid: `SM${m}`, From: '+15550001', To: '+15550002', Body: 'hello', SmsStatus: 'received' });

  test('form: a replay with another idempotency token (or none, or other unsigned headers) is stored once', async () => {
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-dedup', secret: authToken });
    const first = twilioFormRequest({ sourceId: src.id, authToken, params: params(marker()), idempotencyToken: 'idem-original' });
    const bare = { ...first, headers: Object.fromEntries(Object.entries(first.headers).filter(([k]) => k !== 'i-twilio-idempotency-token')) };
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(1)), withHeaders(first, unsignedHeaders(2)), bare]);
  });

  test('form: parameters regrouped so the signed string stays the same are the same request', async () => {
    // Twilio signs name+value with no separators: {Body: "hello"} and {Bod: "yhello"} sign alike.
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-regroup', secret: authToken });
    const m = marker();
    const first = twilioFormRequest({ sourceId: src.id, authToken, params: { MessageSid: `SM${m}`, Body: 'hello' } });
    const regrouped = { ...first, payload: new URLSearchParams({ MessageSid: `SM${m}`, Bod: 'yhello' }).toString(), headers: { ...first.headers, 'i-twilio-idempotency-token': 'other' } };
    expect(twilioSignature(authToken, `${PUBLIC_URL}${first.url}`, { MessageSid: `SM${m}`, Bod: 'yhello' })).toBe(first.headers['x-twilio-signature']);
    await expectStoredOnce(src.id, first, [regrouped]);
  });

  test('JSON: a replay with another idempotency token is stored once', async () => {
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-json-dedup', secret: authToken });
    const first = twilioJsonRequest({ sourceId: src.id, authToken, body: JSON.stringify({ MessageSid: `SM${marker()}`, MessageStatus: 'delivered' }), idempotencyToken: 'idem-json' });
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(3)), withHeaders(first, unsignedHeaders(4))]);
  });

  test('two different signed requests carrying the same idempotency token are two events', async () => {
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-same-token', secret: authToken });
    const a = await h.hook(twilioFormRequest({ sourceId: src.id, authToken, params: params(marker()), idempotencyToken: 'shared' }));
    const b = await h.hook(twilioFormRequest({ sourceId: src.id, authToken, params: params(marker()), idempotencyToken: 'shared' }));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(eventIdOf(b)).not.toBe(eventIdOf(a));
    expect(await h.events(ws.id, src.id)).toHaveLength(2);
  });
});

describe('the other providers: a replay with changed unsigned headers is stored once', () => {
  test('standard: keyed by the signed webhook-id', async () => {
    const src = await source({ provider: 'standard', name: 'std-dedup' });
    const first = standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body });
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(1, false)), withHeaders(first, unsignedHeaders(2, false))]);
  });

  test('hmac: keyed by the signed body', async () => {
    const secret = marker('hm');
    const src = await source({ provider: 'hmac', name: 'hmac-dedup', secret });
    const first = hmacRequest({ sourceId: src.id, secret, body: jsonBody().body });
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(1)), withHeaders(first, unsignedHeaders(2))]);
  });

  test('whatsapp (Meta): keyed by the signed body', async () => {
    const appSecret = marker('meta');
    const src = await source({ provider: 'whatsapp', name: 'wa-dedup', secret: appSecret });
    const first = metaRequest({ sourceId: src.id, appSecret, body: JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: marker() }] }) });
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(1)), withHeaders(first, unsignedHeaders(2))]);
  });

  test('vonage: keyed by the body its JWT hashes (a re-signed JWT over the same body too)', async () => {
    const secret = marker('vonage');
    const src = await source({ provider: 'vonage', name: 'vonage-dedup', secret });
    const body = JSON.stringify({ message_uuid: marker(), channel: 'sms', text: 'hi' });
    const first = vonageRequest({ sourceId: src.id, secret, body });
    await expectStoredOnce(src.id, first, [withHeaders(first, unsignedHeaders(1)), withHeaders(vonageRequest({ sourceId: src.id, secret, body }), unsignedHeaders(2))]);
  });

  test('vapi: keyed by the body (HMAC mode and shared-secret mode)', async () => {
    const secret = marker('vapi');
    const signed = await source({ provider: 'vapi', name: 'vapi-hmac-dedup', secret });
    const first = vapiHmacRequest({ sourceId: signed.id, secret, body: jsonBody().body });
    await expectStoredOnce(signed.id, first, [withHeaders(first, unsignedHeaders(1)), withHeaders(first, unsignedHeaders(2))]);
    const plain = await source({ provider: 'vapi', name: 'vapi-secret-dedup', secret });
    const req = vapiSecretRequest({ sourceId: plain.id, secret, body: jsonBody().body });
    await expectStoredOnce(plain.id, req, [withHeaders(req, unsignedHeaders(3)), vapiSecretRequest({ sourceId: plain.id, secret, body: req.payload!, via: 'bearer' })]);
  });

  test('emailbison and http (unsigned): keyed by the body, with the token by header or query alike', async () => {
    const eb = await source({ provider: 'emailbison', name: 'eb-dedup', provider_workspace_id: '42' });
    const ebReq = unsignedRequest({ sourceId: eb.id, body: JSON.stringify({ event: { type: 'LEAD_REPLIED', workspace_id: 42 }, data: { m: marker() } }) });
    await expectStoredOnce(eb.id, ebReq, [withHeaders(ebReq, unsignedHeaders(1)), withHeaders(ebReq, unsignedHeaders(2))]);
    const token = marker('http-token');
    const http = await source({ provider: 'http', name: 'http-dedup', secret: token });
    const body = jsonBody().body;
    const byHeader = unsignedRequest({ sourceId: http.id, body, token });
    await expectStoredOnce(http.id, byHeader, [withHeaders(byHeader, unsignedHeaders(3)), unsignedRequest({ sourceId: http.id, body, token, via: 'query' })]);
  });
});
