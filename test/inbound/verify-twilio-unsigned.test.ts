import { describe, expect, test } from 'vitest';
import {
  PUBLIC_URL,
  byReason,
  h,
  source,
  t,
  useInboundApp,
  ws,
  expectRejected,
  marker,
  sha256Hex,
  tamper,
  twilioFormRequest,
  twilioJsonRequest,
  twilioSignature,
  unsignedRequest,
  without,
  type HookRequest,
  type Res,
} from '../helpers/inbound-signers.js';

// Twilio (form and JSON bodies) and the unsigned providers (emailbison, http), seen from outside.
// Twilio signs the public URL it called: GATEHOUSE_PUBLIC_URL + path + query.

useInboundApp();

async function expectStored(id: string, sourceId: string, req: HookRequest, signature: string) {
  const ev = await h.event(id);
  expect(ev).toMatchObject({ id, source_id: sourceId, signature });
  expect(ev.body).toBe(req.payload);
  const listed = await h.events(ws.id, sourceId);
  expect(listed.find((e) => e.id === id)?.signature).toBe(signature);
}

describe('twilio', () => {
  const sms = (m: string) => ({ AccountSid: 'AC0123', MessageSid: `SM${m}`, From: '+15550001', To: '+15550002', Body: 'Hi there, café & co = ok', SmsStatus: 'received' });

  /** Twilio gets empty TwiML, with the event id in the header; the event is stored verified. */
  async function expectTwiml(req: HookRequest, sourceId: string) {
    const res = await h.hook(req);
    expect(res.status, res.raw).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^(text|application)\/xml/);
    expect(res.raw).toMatch(/^(<\?xml[^>]*\?>\s*)?(<Response\s*\/>|<Response>\s*<\/Response>)\s*$/);
    const id = res.headers['x-gatehouse-inbound-event'] as string;
    expect(typeof id).toBe('string');
    await expectStored(id, sourceId, req, 'verified');
    return id;
  }

  test('form: valid → 200 TwiML and stored; a changed param, another token, a missing header → 401; nothing stored', async () => {
    const authToken = marker('twilio-token');
    const src = await source({ provider: 'twilio', name: 'tw', secret: authToken });
    await expectTwiml(twilioFormRequest({ sourceId: src.id, authToken, params: sms(marker()) }), src.id);
    const m = [marker(), marker(), marker()];
    expectRejected(await h.hook(tamper(twilioFormRequest({ sourceId: src.id, authToken, params: sms(m[0]) }), m[0], `${m[0]}0`)), 'bad_signature');
    expectRejected(await h.hook(twilioFormRequest({ sourceId: src.id, authToken: 'another-auth-token', params: sms(m[1]) })), 'bad_signature');
    expectRejected(await h.hook(without(twilioFormRequest({ sourceId: src.id, authToken, params: sms(m[2]) }), 'x-twilio-signature')), 'missing_signature');
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
    for (const x of m) expect(await h.tablesContaining(x)).toEqual([]);
  });

  test('form: the query string Twilio called is part of the signed URL; a URL signed for another host is refused', async () => {
    const authToken = marker('twilio-token');
    const src = await source({ provider: 'twilio', name: 'tw-query', secret: authToken });
    await expectTwiml(twilioFormRequest({ sourceId: src.id, authToken, params: sms(marker()), query: '?tag=a%20b&n=1' }), src.id);
    // Signed for the query "?tag=x", sent with "?tag=y".
    const signedFor = twilioFormRequest({ sourceId: src.id, authToken, params: sms(marker()), query: '?tag=x' });
    expectRejected(await h.hook({ ...signedFor, url: signedFor.url.replace('tag=x', 'tag=y') }), 'bad_signature');
    // Signed for the host the app listens on instead of the public URL.
    expectRejected(await h.hook(twilioFormRequest({ sourceId: src.id, authToken, params: sms(marker()), publicUrl: 'http://localhost:80' })), 'bad_signature');
  });

  test('JSON: bodySHA256 in the URL, signature over the URL → 200; a changed body → body_hash_mismatch; a re-hashed URL → bad_signature', async () => {
    const authToken = marker('twilio-token');
    const src = await source({ provider: 'twilio', name: 'tw-json', secret: authToken });
    const body = (m: string) => JSON.stringify({ MessageSid: `SM${m}`, MessageStatus: 'delivered', AccountSid: 'AC0123' });
    await expectTwiml(twilioJsonRequest({ sourceId: src.id, authToken, body: body(marker()) }), src.id);
    const m = [marker(), marker(), marker()];
    expectRejected(await h.hook(tamper(twilioJsonRequest({ sourceId: src.id, authToken, body: body(m[0]) }), m[0], `${m[0]}0`)), 'body_hash_mismatch');
    // The attacker updates bodySHA256 to the new body: the URL signature no longer matches.
    const forged = body(`${m[1]}0`);
    const orig = twilioJsonRequest({ sourceId: src.id, authToken, body: body(m[1]) });
    expectRejected(await h.hook({ ...orig, url: orig.url.replace(/bodySHA256=[0-9a-f]+/, `bodySHA256=${sha256Hex(forged)}`), payload: forged }), 'bad_signature');
    expectRejected(await h.hook(twilioJsonRequest({ sourceId: src.id, authToken: 'another-auth-token', body: body(m[2]) })), 'bad_signature');
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('a retry of the same delivery → the second is a duplicate with the first id; one event', async () => {
    const authToken = marker('twilio-token');
    const src = await source({ provider: 'twilio', name: 'tw-idem', secret: authToken });
    const params = sms(marker());
    const id = await expectTwiml(twilioFormRequest({ sourceId: src.id, authToken, params, idempotencyToken: `idem-${marker()}` }), src.id);
    // Twilio's retry: the same URL and parameters, so the same signature (the token is not signed:
    // see dedup-signed.test.ts).
    const again = await h.hook(twilioFormRequest({ sourceId: src.id, authToken, params, idempotencyToken: `idem-${marker()}` }));
    expect(again.status, again.raw).toBe(200);
    expect(again.headers['x-gatehouse-inbound-event']).toBe(id);
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('the signer follows Twilio\'s documented example', () => {
    // twilio.com/docs/usage/webhooks/webhooks-security: the published example's inputs and result.
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    expect(twilioSignature('12345', url, params)).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  });
});

describe('emailbison (unsigned, workspace checked)', () => {
  const ebBody = (workspaceId: unknown, m = marker()) =>
    JSON.stringify({ event: { type: 'LEAD_INTERESTED', name: 'Lead Interested', workspace_id: workspaceId, workspace_name: 'Acme' }, data: { lead: { id: 7, email: `${m}@example.test` } } });

  test('provider_workspace_id is required for emailbison', async () => {
    const r = await h.api('POST', `/v1/workspaces/${ws.id}/inbound-sources`, { provider: 'emailbison', name: 'eb-no-ws' });
    expect(r.status, r.raw).toBe(400);
  });

  test('no token: the matching workspace → 200 unsigned; another workspace_id → 401 workspace_mismatch, nothing stored', async () => {
    const src = await source({ provider: 'emailbison', name: 'eb', provider_workspace_id: '42' });
    const req = unsignedRequest({ sourceId: src.id, body: ebBody(42) });
    const ok = await h.hook(req);
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.body.duplicate).toBe(false);
    expect(ok.headers['x-gatehouse-inbound-event']).toBe(ok.body.id);
    await expectStored(ok.body.id, src.id, req, 'unsigned');
    const m = [marker(), marker(), marker()];
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(43, m[0]) })), 'workspace_mismatch');
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody('420', m[1]) })), 'workspace_mismatch');
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: JSON.stringify({ data: { m: m[2] } }) })), 'workspace_mismatch');
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
    for (const x of m) expect(await h.tablesContaining(x)).toEqual([]);
    expect(byReason(await h.health(src.id))).toEqual({ workspace_mismatch: 3 });
  });

  test('a shared token: as x-gatehouse-token or ?token= → 200 token; absent → missing_token; wrong → bad_token', async () => {
    const token = marker('ebtoken');
    const src = await source({ provider: 'emailbison', name: 'eb-token', provider_workspace_id: '42', secret: token });
    for (const via of ['header', 'query'] as const) {
      const req = unsignedRequest({ sourceId: src.id, body: ebBody(42), token, via });
      const ok = await h.hook(req);
      expect(ok.status, `${via}: ${ok.raw}`).toBe(200);
      await expectStored(ok.body.id, src.id, req, 'token');
    }
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(42) })), 'missing_token');
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(42), token: `${token}x` })), 'bad_token');
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(42), token: `${token}x`, via: 'query' })), 'bad_token');
    // The right token does not excuse another workspace.
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(43), token })), 'workspace_mismatch');
    expect(await h.events(ws.id, src.id)).toHaveLength(2);
  });

  test('the same body twice → the second is a duplicate of the first', async () => {
    const src = await source({ provider: 'emailbison', name: 'eb-dup', provider_workspace_id: '42' });
    const req = unsignedRequest({ sourceId: src.id, body: ebBody(42) });
    const first = await h.hook(req);
    expect(first.status, first.raw).toBe(200);
    const again = await h.hook(req);
    expect(again.status, again.raw).toBe(200);
    expect(again.body).toEqual({ id: first.body.id, duplicate: true });
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('text/plain to emailbison → 415', async () => {
    const src = await source({ provider: 'emailbison', name: 'eb-ct', provider_workspace_id: '42' });
    const res = await h.hook(unsignedRequest({ sourceId: src.id, body: ebBody(42), contentType: 'text/plain' }));
    expect(res.status, res.raw).toBe(415);
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
  });
});

describe('http (unsigned)', () => {
  test('no token: any content type → 200 unsigned', async () => {
    const src = await source({ provider: 'http', name: 'http' });
    for (const [ct, body] of [
      ['application/json', JSON.stringify({ type: 'lead.replied', m: marker() })],
      ['text/plain', `plain ${marker()}`],
      ['application/x-www-form-urlencoded', `a=1&m=${marker()}`],
    ]) {
      const req = unsignedRequest({ sourceId: src.id, body, contentType: ct });
      const res = await h.hook(req);
      expect(res.status, `${ct}: ${res.raw}`).toBe(200);
      await expectStored(res.body.id, src.id, req, 'unsigned');
    }
  });

  test('with a token: header or query → 200 token; absent → missing_token; wrong → bad_token; nothing stored for those', async () => {
    const token = marker('httptoken');
    const src = await source({ provider: 'http', name: 'http-token', secret: token });
    for (const via of ['header', 'query'] as const) {
      const req = unsignedRequest({ sourceId: src.id, body: JSON.stringify({ m: marker() }), token, via });
      const res = await h.hook(req);
      expect(res.status, `${via}: ${res.raw}`).toBe(200);
      await expectStored(res.body.id, src.id, req, 'token');
    }
    const m = [marker(), marker()];
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: JSON.stringify({ m: m[0] }) })), 'missing_token');
    expectRejected(await h.hook(unsignedRequest({ sourceId: src.id, body: JSON.stringify({ m: m[1] }), token: token.slice(0, -1) })), 'bad_token');
    expect(await h.events(ws.id, src.id)).toHaveLength(2);
    for (const x of m) expect(await h.tablesContaining(x)).toEqual([]);
    expect(byReason(await h.health(src.id))).toEqual({ missing_token: 1, bad_token: 1 });
  });
});

describe('secrets never shown', () => {
  test('a secret given at creation is not echoed back; none appears in any later response nor in the logs', async () => {
    const given = marker('given-token');
    const created = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/inbound-sources`, { provider: 'twilio', name: 'tw-echo', secret: given });
    expect(created.status, created.raw).toBe(201);
    expect(created.raw).not.toContain(given);
    h.secrets.push(given);
    const list = await h.api('GET', `/v1/workspaces/${ws.id}/inbound-sources`);
    for (const s of list.body.data) {
      await h.api('GET', `/v1/inbound-sources/${s.id}`);
      await h.api('PATCH', `/v1/inbound-sources/${s.id}`, { name: `${s.name}-renamed` });
      await h.api('GET', `/v1/inbound-sources/${s.id}/health`);
    }
    // 4 Twilio auth tokens, the emailbison and http tokens, and the one given above.
    expect(h.secrets.length).toBe(7);
    expect(h.leaks(h.secrets)).toEqual([]);
  });
});
