import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  PUBLIC_URL,
  hmacRequest,
  h,
  source,
  t,
  useInboundApp,
  ws,
  expectRejected,
  jsonBody,
  marker,
  metaRequest,
  sha256Hex,
  standardRequest,
  twilioFormRequest,
  twilioSignature,
  vonageJwt,
  vonageRequest,
  type HookRequest,
  type Res,
} from '../helpers/inbound-signers.js';

// What an attacker would try: replays that skip verification, malformed signatures, a JWT that
// names no algorithm, a Twilio JSON body whose URL carries no body hash.

useInboundApp();

const withHeaders = (req: HookRequest, headers: Record<string, string>): HookRequest => ({ ...req, headers: { ...req.headers, ...headers } });

describe('a repeat is only a repeat once it is verified', () => {
  test('standard: a known webhook-id with a bad signature → 401, not 200 duplicate with the first id', async () => {
    const src = await source({ provider: 'standard', name: 'std-replay-forged' });
    const first = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, msgId: 'msg_known' }));
    expect(first.status, first.raw).toBe(200);
    const other = (await source({ provider: 'standard', name: 'std-replay-other' })).secret!;
    const forged = await h.hook(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body, msgId: 'msg_known' }));
    expectRejected(forged, 'bad_signature');
    expect(forged.raw).not.toContain(first.body.id);
  });

  test('twilio: a known idempotency token with a bad signature → 401', async () => {
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-replay-forged', secret: authToken });
    const params = { MessageSid: `SM${marker()}`, Body: 'x', SmsStatus: 'received' };
    const ok = await h.hook(twilioFormRequest({ sourceId: src.id, authToken, params, idempotencyToken: 'tok-1' }));
    expect(ok.status, ok.raw).toBe(200);
    const forged = await h.hook(twilioFormRequest({ sourceId: src.id, authToken: 'not-the-token', params, idempotencyToken: 'tok-1' }));
    expectRejected(forged, 'bad_signature');
  });

  test('hmac: a known body with a bad signature → 401', async () => {
    const secret = marker('hm');
    const src = await source({ provider: 'hmac', name: 'hmac-replay-forged', secret });
    const body = jsonBody().body;
    expect((await h.hook(hmacRequest({ sourceId: src.id, secret, body }))).status).toBe(200);
    expectRejected(await h.hook(hmacRequest({ sourceId: src.id, secret: 'wrong-secret', body })), 'bad_signature');
  });

  test('the same webhook-id on two sources is two events: repeats are per source', async () => {
    const a = await source({ provider: 'standard', name: 'std-a' });
    const b = await source({ provider: 'standard', name: 'std-b' });
    const ra = await h.hook(standardRequest({ sourceId: a.id, secret: a.secret!, body: jsonBody().body, msgId: 'msg_shared' }));
    const rb = await h.hook(standardRequest({ sourceId: b.id, secret: b.secret!, body: jsonBody().body, msgId: 'msg_shared' }));
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect(rb.body.duplicate).toBe(false);
    expect(rb.body.id).not.toBe(ra.body.id);
  });
});

describe('malformed proofs are 401, never 500', () => {
  test('standard: a non-numeric timestamp, a signature that is not base64, an unknown version', async () => {
    const src = await source({ provider: 'standard', name: 'std-malformed' });
    const good = standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body });
    const tsReason = (await h.hook(withHeaders(good, { 'webhook-timestamp': 'yesterday' })));
    expect(tsReason.status, tsReason.raw).toBe(401);
    expect(['stale_timestamp', 'bad_signature', 'missing_signature']).toContain(tsReason.body.error.details?.reason);
    expectRejected(await h.hook(withHeaders(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), { 'webhook-signature': 'v1,%%%not-base64%%%' })), 'bad_signature');
    const v2 = standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body });
    expectRejected(await h.hook(withHeaders(v2, { 'webhook-signature': v2.headers['webhook-signature'].replace(/^v1,/, 'v1a,') })), 'bad_signature');
  });

  test('meta: a short signature, no sha256= prefix, sha1= instead', async () => {
    const appSecret = marker('app');
    const src = await source({ provider: 'whatsapp', name: 'wa-malformed', secret: appSecret });
    const body = jsonBody().body;
    const good = metaRequest({ sourceId: src.id, appSecret, body });
    const hex = good.headers['x-hub-signature-256'].slice('sha256='.length);
    for (const sig of ['sha256=abc', hex, `sha1=${hex}`, `sha256=${hex.toUpperCase().replace(/./, 'Z')}`]) {
      const res = await h.hook(withHeaders(good, { 'x-hub-signature-256': sig }));
      expect(res.status, `${sig}: ${res.raw}`).toBe(401);
    }
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
  });

  test('vonage: alg none, a JWT signed with another algorithm, a token that is not a JWT, a JWT with no iat', async () => {
    const secret = marker('vsig');
    const src = await source({ provider: 'vonage', name: 'vonage-malformed', secret });
    const body = JSON.stringify({ status: 'delivered', message_uuid: marker() });
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { iat: Math.floor(Date.now() / 1000), jti: marker(), payload_hash: sha256Hex(body), api_key: 'abcd1234' };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const hs512Head = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64(claims)}`;
    const hs512 = `${hs512Head}.${createHmac('sha512', secret).update(hs512Head).digest('base64url')}`;
    const { iat: _iat, ...noIat } = claims;
    const noIatHead = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(noIat)}`;
    const noIatJwt = `${noIatHead}.${createHmac('sha256', secret).update(noIatHead).digest('base64url')}`;
    for (const [what, jwt] of [['alg none', none], ['HS512', hs512], ['not a JWT', 'abc.def'], ['garbage', '!!!'], ['no iat', noIatJwt]]) {
      const res = await h.hook({ method: 'POST', url: `/hooks/${src.id}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` }, payload: body });
      expect(res.status, `${what}: ${res.raw}`).toBe(401);
    }
    // And the real one still passes, so the refusals above are about the token.
    expect((await h.hook(vonageRequest({ sourceId: src.id, secret, body }))).status).toBe(200);
    expect(vonageJwt({ secret, body }).split('.')).toHaveLength(3);
  });
});

describe('twilio JSON bodies', () => {
  test('a JSON body whose signed URL carries no bodySHA256 → 401: the body is not covered by anything', async () => {
    const authToken = marker('tw');
    const src = await source({ provider: 'twilio', name: 'tw-json-nohash', secret: authToken });
    const path = `/hooks/${src.id}`;
    const res = await h.hook({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/json', 'x-twilio-signature': twilioSignature(authToken, `${PUBLIC_URL}${path}`) },
      payload: JSON.stringify({ MessageSid: `SM${marker()}`, MessageStatus: 'delivered' }),
    });
    expect(res.status, res.raw).toBe(401);
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
  });
});

describe('unknown ids', () => {
  const post = (id: string) => h.hook({ method: 'POST', url: `/hooks/${id}`, headers: { 'content-type': 'application/json' }, payload: '{}' });
  test('ids of any shape that are not a source → 404 not_found, not 400 or 500', async () => {
    for (const id of ['nope', 'src_', 'src_AAAAAAAAAAAAAAAAAAAAAAAAAAA', '%E2%98%83']) {
      const res = await post(id);
      expect(res.status, `${id}: ${res.raw}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  test('a long id (90 characters, under the app-wide 100-character path-segment cap) is an unknown source too → 404', async () => {
    const res = await post(`src_${'a'.repeat(86)}`);
    expect(res.status, res.raw).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
