import { sql } from 'kysely';
import { describe, expect, test } from 'vitest';
import { h, marker, source, standardRequest, t, useInboundApp, ws, expectRejected, jsonBody, type HookRequest } from '../helpers/inbound-signers.js';

// POST /hooks/:source_id needs no key: anyone who knows a source's address can make it write a
// rejection row per request. What such a request sends is stored cut to 256 characters, as the
// audit log and sessions store it, so a 13 KB User-Agent does not become a 13 KB row.

useInboundApp();

const withHeaders = (req: HookRequest, headers: Record<string, string>): HookRequest => ({ ...req, headers: { ...req.headers, ...headers } });
const longAgent = (m: string) => `${m}-${'x'.repeat(13_000)}`;

describe('header values an anonymous caller sends to an inbound source', () => {
  test('a rejected request with a 13 KB User-Agent is recorded with 256 characters of it', async () => {
    const src = await source({ provider: 'standard', name: 'std-long-ua-rejected' });
    const other = (await source({ provider: 'standard', name: 'std-long-ua-other' })).secret!;
    const m = marker('ua');
    expectRejected(await h.hook(withHeaders(standardRequest({ sourceId: src.id, secret: other, body: jsonBody().body }), { 'user-agent': longAgent(m) })), 'bad_signature');
    const { rows } = await sql<{ n: number }>`select length(user_agent)::int as n from inbound_rejections where source_id = ${src.id}`.execute(t.services.database.db);
    expect(rows).toEqual([{ n: 256 }]);
  });

  test('an accepted event keeps 256 characters of its User-Agent, in its column and its kept headers', async () => {
    const src = await source({ provider: 'standard', name: 'std-long-ua-accepted' });
    const m = marker('ua');
    const res = await h.hook(withHeaders(standardRequest({ sourceId: src.id, secret: src.secret!, body: jsonBody().body }), { 'user-agent': longAgent(m) }));
    expect(res.status, res.raw).toBe(200);
    const { rows } = await sql<{ n: number; kept: number }>`select length(user_agent)::int as n, length(headers->>'user-agent')::int as kept from inbound_events where source_id = ${src.id}`.execute(t.services.database.db);
    expect(rows).toEqual([{ n: 256, kept: 256 }]);
    expect((await h.events(ws.id, src.id))).toHaveLength(1);
  });
});
