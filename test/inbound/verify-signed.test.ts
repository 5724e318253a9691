import { describe, expect, test } from 'vitest';
import {
  byReason,
  hmacRequest,
  h,
  source,
  t,
  useInboundApp,
  ws,
  expectRejected,
  jsonBody,
  marker,
  metaHandshake,
  metaRequest,
  standardRequest,
  tamper,
  vapiHmacRequest,
  vapiSecretRequest,
  vonageRequest,
  without,
  type HookRequest,
  type Res,
} from '../helpers/inbound-signers.js';

// The signed schemes of src/modules/inbound/README.md, seen from outside: Standard Webhooks,
// generic HMAC, Meta (WhatsApp), Vonage JWT and Vapi. Each request is signed here from the
// provider's published algorithm, never with Gatehouse's own code.

useInboundApp();


/** 200 {id, duplicate:false}, the id in x-gatehouse-inbound-event, and the event stored with its raw body. */
async function expectAccepted(req: HookRequest, sourceId: string, signature = 'verified') {
  const res = await h.hook(req);
  expect(res.status, res.raw).toBe(200);
  expect(res.body).toMatchObject({ duplicate: false });
  expect(typeof res.body.id).toBe('string');
  expect(res.headers['x-gatehouse-inbound-event']).toBe(res.body.id);
  const ev = await h.event(res.body.id);
  expect(ev).toMatchObject({ id: res.body.id, source_id: sourceId, signature });
  expect(ev.body).toBe(req.payload);
  const listed = await h.events(ws.id, sourceId);
  expect(listed.map((e) => e.id)).toContain(res.body.id);
  expect(listed.find((e) => e.id === res.body.id).signature).toBe(signature);
  return res.body.id as string;
}
/** The rejected requests left no event behind and their bodies are nowhere in the database. */
async function expectNothingStored(sourceId: string, before: number, markers: string[]) {
  expect(await h.events(ws.id, sourceId)).toHaveLength(before);
  for (const m of markers) expect(await h.tablesContaining(m)).toEqual([]);
}

describe('standard (Standard Webhooks)', () => {
  test('valid → 200 and stored verified; tampered, other secret, stale, missing headers → 401 with the reason, nothing stored', async () => {
    const src = await source({ provider: 'standard', name: 'std' });
    expect(src.secret).toMatch(/^whsec_/);
    const ok = jsonBody();
    await expectAccepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: ok.body }), src.id);
    // The scan can see a stored body: the absence checks below mean something.
    expect((await h.tablesContaining(ok.m)).length).toBeGreaterThan(0);

    const other = (await source({ provider: 'standard', name: 'std-other' })).secret!;
    const bad = [jsonBody(), jsonBody(), jsonBody(), jsonBody(), jsonBody()];
    expectRejected(await h.hook(tamper(standardRequest({ sourceId: src.id, secret: src.secret!, body: bad[0].body }), bad[0].m, `${bad[0].m}x`)), 'bad_signature');
    expectRejected(await h.hook(standardRequest({ sourceId: src.id, secret: other, body: bad[1].body })), 'bad_signature');
    expectRejected(await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: bad[2].body, at: new Date(Date.now() - 3600_000) })), 'stale_timestamp');
    expectRejected(await h.hook(without(standardRequest({ sourceId: src.id, secret: src.secret!, body: bad[3].body }), 'webhook-signature')), 'missing_signature');
    expectRejected(await h.hook(without(standardRequest({ sourceId: src.id, secret: src.secret!, body: bad[4].body }), 'webhook-id', 'webhook-timestamp')), 'missing_signature');
    await expectNothingStored(src.id, 1, [...bad.map((b) => b.m), `${bad[0].m}x`]);
  });

  test('a timestamp from the future beyond tolerance_s is stale too; within a custom tolerance_s it is accepted', async () => {
    const src = await source({ provider: 'standard', name: 'std-tol', tolerance_s: 7200 });
    await expectAccepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, at: new Date(Date.now() - 3600_000) }), src.id);
    const strict = await source({ provider: 'standard', name: 'std-strict' });
    expectRejected(await h.hook(standardRequest({ sourceId: strict.id, secret: strict.secret!, body: jsonBody().body, at: new Date(Date.now() + 3600_000) })), 'stale_timestamp');
  });

  test('several signatures in webhook-signature: any one matching is enough', async () => {
    const src = await source({ provider: 'standard', name: 'std-multi' });
    const other = (await source({ provider: 'standard', name: 'std-multi-other' })).secret!;
    await expectAccepted(standardRequest({ sourceId: src.id, secret: [other, src.secret!], body: jsonBody().body }), src.id);
    expectRejected(await h.hook(standardRequest({ sourceId: src.id, secret: [other, other], body: jsonBody().body })), 'bad_signature');
  });

  test('a replayed webhook-id → 200 with the first id and duplicate:true; one event stored', async () => {
    const src = await source({ provider: 'standard', name: 'std-replay' });
    const first = standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, msgId: 'msg_replayed_1' });
    const id = await expectAccepted(first, src.id);
    const again = await h.hook(first);
    expect(again.status, again.raw).toBe(200);
    expect(again.body).toEqual({ id, duplicate: true });
    // Same webhook-id, re-signed later with another body: still the first event.
    const resent = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, msgId: 'msg_replayed_1' }));
    expect(resent.status, resent.raw).toBe(200);
    expect(resent.body).toEqual({ id, duplicate: true });
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('text/plain → 415; form-encoded → 415; application/json with a charset → 200', async () => {
    const src = await source({ provider: 'standard', name: 'std-ct' });
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, contentType: ct }));
      expect(res.status, `${ct}: ${res.raw}`).toBe(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
    }
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
    await expectAccepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, contentType: 'application/json; charset=utf-8' }), src.id);
  });
});

describe('hmac (generic)', () => {
  test('defaults (x-signature, hex sha256, no prefix): valid, tampered, other secret, missing header', async () => {
    const secret = `hm-${marker('secret')}`;
    const src = await source({ provider: 'hmac', name: 'hmac', secret });
    await expectAccepted(hmacRequest({ sourceId: src.id, secret, body: jsonBody().body }), src.id);
    const bad = [jsonBody(), jsonBody(), jsonBody()];
    expectRejected(await h.hook(tamper(hmacRequest({ sourceId: src.id, secret, body: bad[0].body }), bad[0].m, `${bad[0].m}x`)), 'bad_signature');
    expectRejected(await h.hook(hmacRequest({ sourceId: src.id, secret: 'not-the-secret', body: bad[1].body })), 'bad_signature');
    expectRejected(await h.hook(without(hmacRequest({ sourceId: src.id, secret, body: bad[2].body }), 'x-signature')), 'missing_signature');
    await expectNothingStored(src.id, 1, bad.map((b) => b.m));
  });

  test('a configured header, prefix, algorithm and encoding are honoured (and the defaults no longer pass)', async () => {
    const settings = { header: 'X-Hook-Sig', prefix: 'sha512=', algorithm: 'sha512' as const, encoding: 'base64' as const };
    const secret = `hm-${marker('secret')}`;
    const src = await source({ provider: 'hmac', name: 'hmac-custom', secret, hmac: settings });
    await expectAccepted(hmacRequest({ sourceId: src.id, secret, body: jsonBody().body, ...settings }), src.id);
    expectRejected(await h.hook(hmacRequest({ sourceId: src.id, secret, body: jsonBody().body, ...settings, prefix: '' })), 'bad_signature');
    expectRejected(await h.hook(hmacRequest({ sourceId: src.id, secret, body: jsonBody().body, ...settings, encoding: 'hex' })), 'bad_signature');
    expectRejected(await h.hook(hmacRequest({ sourceId: src.id, secret, body: jsonBody().body })), 'missing_signature');

    const sha1 = await source({ provider: 'hmac', name: 'hmac-sha1', secret, hmac: { algorithm: 'sha1' } });
    await expectAccepted(hmacRequest({ sourceId: sha1.id, secret, body: jsonBody().body, algorithm: 'sha1' }), sha1.id);
    expectRejected(await h.hook(hmacRequest({ sourceId: sha1.id, secret, body: jsonBody().body })), 'bad_signature');
  });

  test('a generated secret (no secret given) is revealed once and signs as given', async () => {
    const src = await source({ provider: 'hmac', name: 'hmac-gen' });
    expect(typeof src.secret).toBe('string');
    expect(src.secret!.length).toBeGreaterThanOrEqual(16);
    await expectAccepted(hmacRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), src.id);
  });

  test('the same body twice (no id header in this scheme) → the second is a duplicate of the first', async () => {
    const secret = `hm-${marker('secret')}`;
    const src = await source({ provider: 'hmac', name: 'hmac-dup', secret });
    const req = hmacRequest({ sourceId: src.id, secret, body: jsonBody().body });
    const id = await expectAccepted(req, src.id);
    const again = await h.hook(req);
    expect(again.status, again.raw).toBe(200);
    expect(again.body).toEqual({ id, duplicate: true });
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });
});

describe('whatsapp (Meta)', () => {
  const waBody = (m: string) =>
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '1029', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', messages: [{ id: `wamid.${m}`, from: '15550001', type: 'text', text: { body: 'h\u00e9llo \u2603' } }] } }] }],
    });

  test('valid X-Hub-Signature-256 over the raw bytes → 200 verified; tampered, other app secret, missing → 401', async () => {
    const appSecret = marker('appsecret');
    const src = await source({ provider: 'whatsapp', name: 'wa', secret: appSecret });
    // Meta escapes unicode in what it sends; the signature is over those exact bytes.
    const escaped = waBody(marker()).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    await expectAccepted(metaRequest({ sourceId: src.id, appSecret, body: escaped }), src.id);
    const m = [marker(), marker(), marker()];
    expectRejected(await h.hook(tamper(metaRequest({ sourceId: src.id, appSecret, body: waBody(m[0]) }), m[0], `${m[0]}x`)), 'bad_signature');
    expectRejected(await h.hook(metaRequest({ sourceId: src.id, appSecret: 'other-app-secret', body: waBody(m[1]) })), 'bad_signature');
    expectRejected(await h.hook(without(metaRequest({ sourceId: src.id, appSecret, body: waBody(m[2]) }), 'x-hub-signature-256')), 'missing_signature');
    await expectNothingStored(src.id, 1, m);
  });

  test('GET handshake: the right verify token → 200 text/plain with the challenge; a wrong one → 403', async () => {
    const src = await source({ provider: 'whatsapp', name: 'wa-hs', secret: marker('appsecret') });
    expect(typeof src.verify_token).toBe('string');
    const challenge = String(Math.floor(Math.random() * 1e9));
    const ok = await h.hook(metaHandshake({ sourceId: src.id, verifyToken: src.verify_token!, challenge }));
    expect(ok.status, ok.raw).toBe(200);
    expect(String(ok.headers['content-type'])).toMatch(/^text\/plain/);
    expect(ok.raw).toBe(challenge);
    const wrong = await h.hook(metaHandshake({ sourceId: src.id, verifyToken: `${src.verify_token}x`, challenge }));
    expect(wrong.status, wrong.raw).toBe(403);
    expect(wrong.raw).not.toContain(challenge);
    const notSubscribe = await h.hook(metaHandshake({ sourceId: src.id, verifyToken: src.verify_token!, challenge, mode: 'unsubscribe' }));
    expect(notSubscribe.status).not.toBe(200);
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
  });

  test('a given verify_token is used as given (and not echoed back)', async () => {
    const verifyToken = marker('vt');
    h.secrets.push(verifyToken);
    const appSecret = marker('appsecret');
    h.secrets.push(appSecret);
    const created = await h.createSource(ws.id, { provider: 'whatsapp', name: 'wa-vt', secret: appSecret, verify_token: verifyToken });
    expect(created.raw).not.toContain(verifyToken);
    expect(created.raw).not.toContain(appSecret);
    const ok = await h.hook(metaHandshake({ sourceId: created.body.id, verifyToken, challenge: 'ch-42' }));
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.raw).toBe('ch-42');
  });
});

describe('vonage (signed JWT)', () => {
  test('valid JWT → 200 verified; tampered body, other secret, stale iat, missing Authorization → 401', async () => {
    const secret = marker('vonage-sig');
    const src = await source({ provider: 'vonage', name: 'vonage', secret });
    const body = (m: string) => JSON.stringify({ channel: 'sms', message_uuid: m, from: '447700900001', to: '447700900000', text: 'hi' });
    await expectAccepted(vonageRequest({ sourceId: src.id, secret, body: body(marker()) }), src.id);
    const m = [marker(), marker(), marker(), marker()];
    expectRejected(await h.hook(tamper(vonageRequest({ sourceId: src.id, secret, body: body(m[0]) }), m[0], `${m[0]}x`)), /^(body_hash_mismatch|bad_signature)$/);
    expectRejected(await h.hook(vonageRequest({ sourceId: src.id, secret: 'other-signature-secret', body: body(m[1]) })), 'bad_signature');
    expectRejected(await h.hook(vonageRequest({ sourceId: src.id, secret, body: body(m[2]), iat: Math.floor(Date.now() / 1000) - 3600 })), 'stale_timestamp');
    expectRejected(await h.hook(without(vonageRequest({ sourceId: src.id, secret, body: body(m[3]) }), 'authorization')), 'missing_signature');
    await expectNothingStored(src.id, 1, m);
  });

  test('a JWT whose payload_hash is of another body → 401 body_hash_mismatch', async () => {
    const secret = marker('vonage-sig');
    const src = await source({ provider: 'vonage', name: 'vonage-hash', secret });
    const res = await h.hook(vonageRequest({ sourceId: src.id, secret, body: JSON.stringify({ status: 'delivered', m: marker() }), payloadHash: 'ab'.repeat(32) }));
    expectRejected(res, 'body_hash_mismatch');
  });
});

describe('vapi', () => {
  const vapiBody = () => JSON.stringify({ message: { type: 'status-update', status: 'in-progress', call: { id: marker('call') } } });

  test('X-Vapi-Secret or Authorization: Bearer with the server secret → 200 verified; another secret or none → 401', async () => {
    const secret = marker('vapi-secret');
    const src = await source({ provider: 'vapi', name: 'vapi', secret });
    await expectAccepted(vapiSecretRequest({ sourceId: src.id, secret, body: vapiBody() }), src.id);
    await expectAccepted(vapiSecretRequest({ sourceId: src.id, secret, body: vapiBody(), via: 'bearer' }), src.id);
    expectRejected(await h.hook(vapiSecretRequest({ sourceId: src.id, secret: `${secret}x`, body: vapiBody() })), /^(bad_signature|bad_token)$/);
    expectRejected(await h.hook(vapiSecretRequest({ sourceId: src.id, secret: `${secret}x`, body: vapiBody(), via: 'bearer' })), /^(bad_signature|bad_token)$/);
    expectRejected(await h.hook(without(vapiSecretRequest({ sourceId: src.id, secret, body: vapiBody() }), 'x-vapi-secret')), 'missing_signature');
    expect(await h.events(ws.id, src.id)).toHaveLength(2);
  });

  test('HMAC: x-timestamp + x-signature → 200 verified; tampered, other secret, stale timestamp, missing → 401', async () => {
    const secret = marker('vapi-hmac');
    const src = await source({ provider: 'vapi', name: 'vapi-hmac', secret });
    await expectAccepted(vapiHmacRequest({ sourceId: src.id, secret, body: vapiBody() }), src.id);
    const b = [vapiBody(), vapiBody(), vapiBody(), vapiBody()];
    const callId = (s: string) => JSON.parse(s).message.call.id as string;
    expectRejected(await h.hook(tamper(vapiHmacRequest({ sourceId: src.id, secret, body: b[0] }), callId(b[0]), `${callId(b[0])}x`)), 'bad_signature');
    expectRejected(await h.hook(vapiHmacRequest({ sourceId: src.id, secret: 'other', body: b[1] })), 'bad_signature');
    expectRejected(await h.hook(vapiHmacRequest({ sourceId: src.id, secret, body: b[2], timestamp: Math.floor(Date.now() / 1000) - 3600 })), 'stale_timestamp');
    expectRejected(await h.hook(without(vapiHmacRequest({ sourceId: src.id, secret, body: b[3] }), 'x-signature', 'x-timestamp')), 'missing_signature');
    await expectNothingStored(src.id, 1, b.map(callId));
  });

  test('HMAC with a millisecond x-timestamp (the unit is not fixed by the spec) is accepted when current', async () => {
    const secret = marker('vapi-hmac');
    const src = await source({ provider: 'vapi', name: 'vapi-hmac-ms', secret });
    await expectAccepted(vapiHmacRequest({ sourceId: src.id, secret, body: vapiBody(), timestamp: Date.now() }), src.id);
  });
});

describe('rejections are counted, secrets never shown', () => {
  test('health counts a known sequence of rejections by reason, next to what was received', async () => {
    const src = await source({ provider: 'standard', name: 'std-health' });
    const other = (await source({ provider: 'standard', name: 'std-health-other' })).secret!;
    await expectAccepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), src.id);
    await expectAccepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), src.id);
    await h.hook(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body }));
    await h.hook(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body }));
    await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body, at: new Date(Date.now() - 7200_000) }));
    await h.hook(without(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), 'webhook-signature'));
    const health = await h.health(src.id);
    expect(health.received_24h).toBe(2);
    expect(health.rejected_24h).toBe(4);
    expect(byReason(health)).toEqual({ bad_signature: 2, stale_timestamp: 1, missing_signature: 1 });
    expect(health.last_received_at).not.toBeNull();
    const today = new Date().toISOString().slice(0, 10);
    const day = health.by_day.find((d: { day: string }) => String(d.day).startsWith(today));
    expect(day).toMatchObject({ received: 2, rejected: 4 });
    expect(health.silent).toBe(false);
  });

  test('no secret or verify token in any response but its reveal, nor in the logs', async () => {
    // Read every source back the ways the API offers, then look.
    const list = await h.api('GET', `/v1/workspaces/${ws.id}/inbound-sources`);
    expect(list.status, list.raw).toBe(200);
    for (const s of list.body.data) expect((await h.api('GET', `/v1/inbound-sources/${s.id}`)).status).toBe(200);
    expect(h.secrets.length).toBeGreaterThan(10);
    expect(h.leaks(h.secrets)).toEqual([]);
  });
});
