import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pruneInBatches } from '../../src/jobs/retention.js';
import { parseMasterKeys } from '../../src/lib/envelope.js';
import { pruneInboundEvents, pruneInboundRejections } from '../../src/modules/inbound/health.js';
import { openSourceSecrets } from '../../src/modules/inbound/secrets.js';
import { rewrapDataKeys } from '../../src/modules/vault/rewrap.js';
import { sealedColumnsOf } from '../../src/sealed.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// What happens to sources and their events over time: master-key rotation, and retention.
const v1 = randomBytes(32).toString('base64');
const v2 = randomBytes(32).toString('base64');
let t: TestApp;
let ws: { id: string };

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${v1}` });
  ({ workspace: ws } = await seedWorkspace(t));
});
afterAll(async () => t?.close());

const createSource = async (body: Record<string, unknown>) => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/inbound-sources`, body);
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string | null; verify_token: string | null };
};

test('rewrap moves inbound source secrets (current, previous, verify token) to the new master key; the old key can then go', async () => {
  const std = await createSource({ provider: 'standard', name: 'rewrap-std' });
  const rotated = await t.call(t.adminKey, 'POST', `/v1/inbound-sources/${std.id}/rotate-secret`, {});
  expect(rotated.status, rotated.raw).toBe(200);
  const wa = await createSource({ provider: 'whatsapp', name: 'rewrap-wa', secret: 'meta-app-secret-0123' });

  const report = await rewrapDataKeys(sealedColumnsOf(t.db.database.db), parseMasterKeys(`v2:${v2},v1:${v1}`));
  expect(report.failures).toEqual([]);
  expect(report.remaining).toBe(0);
  expect(report.rewrapped).toBeGreaterThanOrEqual(4);

  const onlyNew = parseMasterKeys(`v2:${v2}`);
  expect((await openSourceSecrets(t.db.database.db, onlyNew, std.id)).signing).toEqual([rotated.body.secret, std.secret]);
  const whatsapp = await openSourceSecrets(t.db.database.db, onlyNew, wa.id);
  expect(whatsapp.signing).toEqual(['meta-app-secret-0123']);
  expect(whatsapp.verifyToken).toBe(wa.verify_token);
  await expect(openSourceSecrets(t.db.database.db, parseMasterKeys(`v1:${v1}`), std.id)).rejects.toThrow();
});

test('retention prunes finished events and rejections past the cutoff in batches; waiting events stay whatever their age', async () => {
  const src = await createSource({ provider: 'standard', name: 'retention' });
  const send = async (n: number, signature?: string) => {
    const body = JSON.stringify({ type: 'lead.created', data: { n } });
    const id = `msg_retention_${n}`;
    const ts = new Date();
    const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': signature ?? new Webhook(src.secret!).sign(id, ts, body) };
    return t.app.inject({ method: 'POST', url: `/hooks/${src.id}`, headers, payload: body });
  };
  for (let i = 0; i < 7; i++) expect((await send(i)).statusCode).toBe(200);
  for (let i = 0; i < 3; i++) expect((await send(100 + i, 'v1,bm90LWEtc2lnbmF0dXJl')).statusCode).toBe(401);
  const db = t.db.database.db;
  // Six of the events are old (five finished, one still waiting), as are two rejections.
  await sql`update inbound_events set received_at = now() - interval '40 days', status = case when dedup_key = 'id:msg_retention_0' then 'pending' else 'processed' end
    where source_id = ${src.id} and dedup_key <> 'id:msg_retention_6'`.execute(db);
  await sql`update inbound_rejections set received_at = now() - interval '40 days' where id in (
    select id from inbound_rejections where source_id = ${src.id} order by id limit 2)`.execute(db);

  const before = new Date(Date.now() - 30 * 86_400_000);
  const events = await pruneInBatches((n) => pruneInboundEvents(db, before, n), { batch: 2 });
  expect(events).toEqual({ removed: 5, batches: 3, largest: 2, done: true });
  const refusals = await pruneInBatches((n) => pruneInboundRejections(db, before, n), { batch: 2 });
  expect(refusals).toEqual({ removed: 2, batches: 2, largest: 2, done: true });
  const left = await db.selectFrom('inbound_events').select(['dedup_key', 'status']).where('source_id', '=', src.id).orderBy('dedup_key').execute();
  expect(left).toEqual([{ dedup_key: 'id:msg_retention_0', status: 'pending' }, { dedup_key: 'id:msg_retention_6', status: 'pending' }]);
  const rejections = await db.selectFrom('inbound_rejections').select('id').where('source_id', '=', src.id).execute();
  expect(rejections).toHaveLength(1);
});

test('the source list pages by cursor, oldest first, every source exactly once, each with its figures', async () => {
  const { workspace } = await seedWorkspace(t);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/inbound-sources`, { provider: 'standard', name: `paged-${i}` });
    expect(res.status, res.raw).toBe(201);
    made.push(res.body.id);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await t.call(t.adminKey, 'GET', `/v1/workspaces/${workspace.id}/inbound-sources?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.raw).toBe(200);
    for (const s of res.body.data) expect(s).toMatchObject({ last_received_at: null, verification_failures_24h: 0 });
    seen.push(...(res.body.data as { id: string }[]).map((s) => s.id));
    cursor = res.body.next_cursor as string | null;
    pages++;
  } while (cursor);
  expect(seen).toEqual(made);
  expect(pages).toBe(3);
  const bad = await t.call(t.adminKey, 'GET', `/v1/workspaces/${workspace.id}/inbound-sources?cursor=bm90LWEtY3Vyc29y`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('validation_failed');
});
