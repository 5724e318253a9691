import { describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import {
  PUBLIC_URL,
  byReason,
  hmacRequest,
  inboundHarness,
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
  unsignedRequest,
  type HookRequest,
} from '../helpers/inbound-signers.js';

// The receiving path around verification: unknown and disabled sources, body limits, rotation,
// and that an unknown id cannot be told from a bad signature by its answer time.

useInboundApp();

async function accepted(req: HookRequest) {
  const res = await h.hook(req);
  expect(res.status, res.raw).toBe(200);
  expect(res.body.duplicate).toBe(false);
  return res.body.id as string;
}

/** Another id of the same shape as `id` (same length, same alphabet), that no source has. */
function lookalike(id: string, salt: number): string {
  const tail = 8;
  const alphabet = /^[0-9a-f-]+$/.test(id) ? '0123456789abcdef' : /[a-z]/.test(id.slice(-tail)) ? '0123456789abcdefghjkmnpqrstvwxyz' : '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '';
  for (let i = 0; i < tail; i++) {
    const c = id[id.length - tail + i];
    if (c === '-' || c === '_') {
      out += c;
      continue;
    }
    const at = alphabet.indexOf(c);
    out += alphabet[(Math.max(at, 0) + 1 + ((salt >> i) & 3)) % alphabet.length];
  }
  return id.slice(0, -tail) + out;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

describe('unknown and disabled sources', () => {
  test('an unknown source id → 404 not_found, for POST and GET; GET on a source that is not WhatsApp → 404', async () => {
    const src = await source({ provider: 'standard', name: 'known' });
    const ghost = lookalike(src.id, 1);
    expect(ghost).not.toBe(src.id);
    expect(ghost.length).toBe(src.id.length);
    const res = await h.hook(standardRequest({ sourceId: ghost, secret: src.secret!, body: jsonBody().body }));
    expect(res.status, res.raw).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    const get = await h.hook(metaHandshake({ sourceId: ghost, verifyToken: 'x', challenge: '1' }));
    expect(get.status, get.raw).toBe(404);
    const getStd = await h.hook(metaHandshake({ sourceId: src.id, verifyToken: 'x', challenge: '1' }));
    expect(getStd.status, getStd.raw).toBe(404);
    expect(getStd.raw).not.toBe('1');
  });

  test('an unknown id and a bad signature on a known source take the same time to answer (medians within 5 ms)', async () => {
    const src = await source({ provider: 'standard', name: 'timing' });
    const other = (await source({ provider: 'standard', name: 'timing-other' })).secret!;
    const n = 200;
    const unknown: number[] = [];
    const badSig: number[] = [];
    const time = async (req: HookRequest, expected: number) => {
      const start = process.hrtime.bigint();
      const res = await t.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      expect(res.statusCode).toBe(expected);
      return ms;
    };
    // Warm both paths, then interleave so drift (GC, JIT, the database) hits both alike.
    for (let i = 0; i < 20; i++) {
      await time(standardRequest({ sourceId: lookalike(src.id, i), secret: other, body: jsonBody().body }), 404);
      await time(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body }), 401);
    }
    for (let i = 0; i < n; i++) {
      unknown.push(await time(standardRequest({ sourceId: lookalike(src.id, i + 100), secret: other, body: jsonBody().body }), 404));
      badSig.push(await time(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body }), 401));
    }
    const diff = Math.abs(median(unknown) - median(badSig));
    expect(diff, `median unknown ${median(unknown).toFixed(3)} ms, bad signature ${median(badSig).toFixed(3)} ms`).toBeLessThan(5);
  });

  test('a disabled source → 403 forbidden and nothing stored (even correctly signed); enabled again → 200', async () => {
    const src = await source({ provider: 'standard', name: 'toggle' });
    await accepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }));
    const off = await h.api('PATCH', `/v1/inbound-sources/${src.id}`, { enabled: false });
    expect(off.status, off.raw).toBe(200);
    expect(off.body.enabled).toBe(false);
    const b = jsonBody();
    const res = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: b.body }));
    expect(res.status, res.raw).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
    expect(await h.tablesContaining(b.m)).toEqual([]);
    const on = await h.api('PATCH', `/v1/inbound-sources/${src.id}`, { enabled: true });
    expect(on.status, on.raw).toBe(200);
    await accepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }));
    expect(await h.events(ws.id, src.id)).toHaveLength(2);
  });
});

describe('body size and content type', () => {
  test('a signed body over 1 MB → 413 payload_too_large, nothing stored; just under → 200', async () => {
    const src = await source({ provider: 'standard', name: 'big' });
    const big = jsonBody({ pad: 'x'.repeat(1024 * 1024) });
    const res = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: big.body }));
    expect(res.status, res.raw.slice(0, 300)).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
    const fits = jsonBody({ pad: 'x'.repeat(1024 * 1024 - 200) });
    expect(Buffer.byteLength(fits.body)).toBeLessThanOrEqual(1024 * 1024);
    await accepted(standardRequest({ sourceId: src.id, secret: src.secret!, body: fits.body }));
  });

  test('GATEHOUSE_INBOUND_BODY_LIMIT=2048: 3 KB → 413 on any provider, 1 KB → 200; the API keeps its own limit', async () => {
    const small = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_INBOUND_BODY_LIMIT: '2048' });
    try {
      const hs = inboundHarness(small);
      const { workspace } = await seedWorkspace(small);
      const std = (await hs.createSource(workspace.id, { provider: 'standard', name: 's' })).body;
      const http = (await hs.createSource(workspace.id, { provider: 'http', name: 'h' })).body;
      const over = jsonBody({ pad: 'y'.repeat(3000) });
      const r1 = await hs.hook(standardRequest({ sourceId: std.id, secret: std.secret, body: over.body }));
      expect(r1.status, r1.raw).toBe(413);
      const r2 = await hs.hook(unsignedRequest({ sourceId: http.id, body: `raw ${'z'.repeat(3000)}`, contentType: 'text/plain' }));
      expect(r2.status, r2.raw).toBe(413);
      expect(await hs.events(workspace.id, std.id)).toHaveLength(0);
      expect(await hs.events(workspace.id, http.id)).toHaveLength(0);
      const under = await hs.hook(standardRequest({ sourceId: std.id, secret: std.secret, body: jsonBody({ pad: 'y'.repeat(1000) }).body }));
      expect(under.status, under.raw).toBe(200);
      // The inbound limit is the receiver's: an API request bigger than it is still served.
      const api = await small.call(small.adminKey, 'PATCH', `/v1/inbound-sources/${std.id}`, { name: `n-${'a'.repeat(60)}`, events: Array.from({ length: 60 }, (_, i) => `lead.custom_${'x'.repeat(30)}_${i}`) });
      expect(api.status, api.raw).not.toBe(413);
    } finally {
      await small.close();
    }
  });

  test('WhatsApp and generic HMAC take JSON only; form-encoded → 415 before anything is stored', async () => {
    const appSecret = marker('appsecret');
    const wa = await source({ provider: 'whatsapp', name: 'wa-ct', secret: appSecret });
    const req = metaRequest({ sourceId: wa.id, appSecret, body: 'a=1&b=2' });
    const res = await h.hook({ ...req, headers: { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status, res.raw).toBe(415);
    const hsecret = marker('hsecret');
    const hm = await source({ provider: 'hmac', name: 'hmac-ct', secret: hsecret });
    const r2 = await h.hook(hmacRequest({ sourceId: hm.id, secret: hsecret, body: jsonBody().body, contentType: 'text/plain' }));
    expect(r2.status, r2.raw).toBe(415);
    expect(await h.events(ws.id, wa.id)).toHaveLength(0);
    expect(await h.events(ws.id, hm.id)).toHaveLength(0);
  });
});

describe('secret rotation', () => {
  test('standard: after rotate-secret both the old (during the overlap) and the new secret verify; overlap_s 0 retires the old', async () => {
    const src = await source({ provider: 'standard', name: 'rot' });
    const old = src.secret!;
    const rotated = await h.api('POST', `/v1/inbound-sources/${src.id}/rotate-secret`, {}, { reveal: true });
    expect(rotated.status, rotated.raw).toBe(200);
    const fresh = rotated.body.secret as string;
    h.secrets.push(fresh);
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(rotated.raw).not.toContain(old);
    await accepted(standardRequest({ sourceId: src.id, secret: old, body: jsonBody().body }));
    await accepted(standardRequest({ sourceId: src.id, secret: fresh, body: jsonBody().body }));

    const again = await h.api('POST', `/v1/inbound-sources/${src.id}/rotate-secret`, { overlap_s: 0 }, { reveal: true });
    expect(again.status, again.raw).toBe(200);
    const newest = again.body.secret as string;
    h.secrets.push(newest);
    await accepted(standardRequest({ sourceId: src.id, secret: newest, body: jsonBody().body }));
    for (const retired of [old, fresh]) {
      const res = await h.hook(standardRequest({ sourceId: src.id, secret: retired, body: jsonBody().body }));
      expect(res.status, res.raw).toBe(401);
      expect(res.body.error.details.reason).toBe('bad_signature');
    }
    expect(await h.events(ws.id, src.id)).toHaveLength(3);
  });

  test('whatsapp: a given new app secret; old and new both verify during the overlap, a third does not', async () => {
    const first = marker('app-old');
    const src = await source({ provider: 'whatsapp', name: 'wa-rot', secret: first });
    const second = marker('app-new');
    h.secrets.push(second);
    const rotated = await h.api('POST', `/v1/inbound-sources/${src.id}/rotate-secret`, { secret: second, overlap_s: 3600 }, { reveal: true });
    expect(rotated.status, rotated.raw).toBe(200);
    await accepted(metaRequest({ sourceId: src.id, appSecret: first, body: jsonBody().body }));
    await accepted(metaRequest({ sourceId: src.id, appSecret: second, body: jsonBody().body }));
    const third = await h.hook(metaRequest({ sourceId: src.id, appSecret: marker('app-third'), body: jsonBody().body }));
    expect(third.status, third.raw).toBe(401);
    // The handshake's verify token is not the signing secret and survives the rotation.
    const hs = await h.hook(metaHandshake({ sourceId: src.id, verifyToken: src.verify_token!, challenge: 'after-rotation' }));
    expect(hs.status, hs.raw).toBe(200);
    expect(hs.raw).toBe('after-rotation');
  });
});

describe('what is kept of a rejection', () => {
  test('rejected requests are counted by reason in health, with no payload anywhere in the database', async () => {
    const hsecret = marker('hsecret');
    const src = await source({ provider: 'hmac', name: 'hmac-rej', secret: hsecret });
    const ok = jsonBody();
    await accepted(hmacRequest({ sourceId: src.id, secret: hsecret, body: ok.body }));
    expect((await h.tablesContaining(ok.m)).length).toBeGreaterThan(0);
    const rejected = [jsonBody(), jsonBody(), jsonBody()];
    for (const r of rejected.slice(0, 2)) expect((await h.hook(hmacRequest({ sourceId: src.id, secret: 'wrong', body: r.body }))).status).toBe(401);
    const { 'x-signature': _drop, ...noSig } = hmacRequest({ sourceId: src.id, secret: hsecret, body: rejected[2].body }).headers;
    expect((await h.hook({ ...hmacRequest({ sourceId: src.id, secret: hsecret, body: rejected[2].body }), headers: noSig })).status).toBe(401);
    const health = await h.health(src.id);
    expect(health.received_24h).toBe(1);
    expect(health.rejected_24h).toBe(3);
    expect(byReason(health)).toEqual({ bad_signature: 2, missing_signature: 1 });
    for (const r of rejected) expect(await h.tablesContaining(r.m)).toEqual([]);
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('no secret, verify token or shared token (even one sent as ?token=) appears in responses or logs', async () => {
    const token = marker('qtoken');
    const http = await source({ provider: 'http', name: 'http-q', secret: token });
    const res = await h.hook(unsignedRequest({ sourceId: http.id, body: jsonBody().body, token, via: 'query' }));
    expect(res.status, res.raw).toBe(200);
    const wrong = await h.hook(unsignedRequest({ sourceId: http.id, body: jsonBody().body, token: `${token}-nope`, via: 'query' }));
    expect(wrong.status, wrong.raw).toBe(401);
    const wa = await source({ provider: 'whatsapp', name: 'wa-logs', secret: marker('appsecret') });
    expect((await h.hook(metaHandshake({ sourceId: wa.id, verifyToken: wa.verify_token!, challenge: '77' }))).status).toBe(200);
    expect((await h.hook(metaHandshake({ sourceId: wa.id, verifyToken: `${wa.verify_token}-nope`, challenge: '78' }))).status).toBe(403);
    const list = await h.api('GET', `/v1/workspaces/${ws.id}/inbound-sources`);
    for (const s of list.body.data) await h.api('GET', `/v1/inbound-sources/${s.id}`);
    expect(h.secrets.length).toBeGreaterThan(8);
    expect(h.leaks(h.secrets)).toEqual([]);
  });
});
