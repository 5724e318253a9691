import { sql } from 'kysely';
import { describe, expect, test } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { MAX_JSON_DEPTH } from '../../src/lib/json-limits.js';
import { startInboundWorker } from '../helpers/inbound.js';
import { eventually } from '../helpers/webhooks.js';
import {
  expectRejected,
  h,
  marker,
  metaRequest,
  source,
  standardRequest,
  t,
  twilioJsonRequest,
  unsignedRequest,
  useInboundApp,
  ws,
  type Res,
} from '../helpers/inbound-signers.js';

// Inbound payloads meet the JSON limits every body meets (depth 64, finite numbers): refused at
// receipt with a 400 and never stored, and a payload stored before the limits held fails once,
// for good, instead of being retried.

useInboundApp();

const nestedObjects = (n: number, leaf = '1') => '{"a":'.repeat(n) + leaf + '}'.repeat(n);
/** A body `depth` levels deep in all, with a marker to look for in the database. */
const deepBody = (depth: number, m = marker()) => `{"type":"lead.replied","marker":"${m}","deep":${nestedObjects(depth - 1)}}`;

function expectRefused(res: Res, reason: 'too_deep' | 'number_out_of_range') {
  expect(res.status, res.raw.slice(0, 300)).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { reason } });
}

describe('at receipt', () => {
  test.each([5_000, 100_000])('a signed body %i levels deep → 400 validation_failed, nothing stored', async (depth) => {
    const src = await source({ provider: 'standard', name: `std-deep-${depth}` });
    const m = marker();
    expectRefused(await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: deepBody(depth, m) })), 'too_deep');
    expect(await h.events(ws.id, src.id)).toHaveLength(0);
    expect(await h.tablesContaining(m)).toEqual([]);
  });

  test('1e999999 → 400 validation_failed, nothing stored', async () => {
    const appSecret = marker('meta');
    const src = await source({ provider: 'whatsapp', name: 'wa-inf', secret: appSecret });
    const m = marker();
    expectRefused(await h.hook(metaRequest({ sourceId: src.id, appSecret, body: `{"object":"${m}","entry":[{"n":1e999999}]}` })), 'number_out_of_range');
    const authToken = marker('tw');
    const tw = await source({ provider: 'twilio', name: 'tw-inf', secret: authToken });
    expectRefused(await h.hook(twilioJsonRequest({ sourceId: tw.id, authToken, body: `{"MessageSid":"${m}","Price":-1e999999}` })), 'number_out_of_range');
    expect(await h.tablesContaining(m)).toEqual([]);
  });

  test('64 levels are accepted, 65 refused', async () => {
    const src = await source({ provider: 'standard', name: 'std-64' });
    const ok = await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: deepBody(MAX_JSON_DEPTH) }));
    expect(ok.status, ok.raw).toBe(200);
    expectRefused(await h.hook(standardRequest({ sourceId: src.id, secret: src.secret!, body: deepBody(MAX_JSON_DEPTH + 1) })), 'too_deep');
    expect(await h.events(ws.id, src.id)).toHaveLength(1);
  });

  test('an http source reads any content type as JSON when it parses, so the limits hold for text/plain too', async () => {
    const src = await source({ provider: 'http', name: 'http-deep' });
    const m = marker();
    expectRefused(await h.hook(unsignedRequest({ sourceId: src.id, body: deepBody(5_000, m), contentType: 'text/plain' })), 'too_deep');
    // Text that is not JSON at all is still taken as it is.
    const text = await h.hook(unsignedRequest({ sourceId: src.id, body: `plain ${m}`, contentType: 'text/plain' }));
    expect(text.status, text.raw).toBe(200);
  });

  test('verification comes first: a deep body with a bad signature is a 401', async () => {
    const src = await source({ provider: 'standard', name: 'std-deep-forged' });
    const other = (await source({ provider: 'standard', name: 'std-deep-other' })).secret!;
    expectRejected(await h.hook(standardRequest({ sourceId: src.id, secret: other, body: deepBody(5_000) })), 'bad_signature');
  });
});

describe('in processing', () => {
  test('a payload stored before the limits held fails once, for good: not retried', async () => {
    const src = await source({ provider: 'standard', name: 'std-stored-deep' });
    const db = t.services.database.db;
    const ids: string[] = [];
    for (const body of [deepBody(100_000), '{"type":"lead.replied","n":1e999999}']) {
      const id = newId('iev');
      ids.push(id);
      await sql`insert into inbound_events (id, workspace_id, source_id, dedup_key, signature, content_type, body)
        values (${id}, ${ws.id}, ${src.id}, ${`id:${id}`}, 'verified', 'application/json', ${Buffer.from(body)})`.execute(db);
    }
    // An hour before any retry: an event still pending after its first attempt would be waiting for one.
    const worker = await startInboundWorker(t, { retryScheduleS: [3600], pollMs: 50 });
    try {
      for (const [i, id] of ids.entries()) {
        const ev = await eventually(async () => {
          const e = await h.event(id);
          return e.attempts >= 1 || e.status !== 'pending' ? e : null;
        });
        expect(ev.status, JSON.stringify(ev).slice(0, 300)).toBe('failed');
        expect(ev.attempts).toBe(1);
        expect(ev.last_error).toMatch(i === 0 ? /nested deeper than 64/ : /number out of range/);
      }
    } finally {
      await worker.stop();
    }
  });
});
