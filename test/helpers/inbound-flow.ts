import { createHash, createHmac, randomUUID } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { expect } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from './app.js';
import { startInboundWorker } from './inbound.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from './webhooks.js';

// The end-to-end harness of the inbound processing tests: provider requests go in through
// POST /hooks/:source_id (app.inject), an in-process inbound worker turns them into Gatehouse
// events, and a delivery worker POSTs those to a real receiver on loopback, where a catch-all
// endpoint ('/all', every type) sees everything. Requests are signed with node:crypto (or the
// standardwebhooks package), never with src code. One harness per test file (vitest isolates files).
export const PUBLIC_URL = 'https://hooks.gatehouse.test';
export const RETRY = [0.2, 0.4];
export const flow = {} as { t: TestApp; ws: { id: string }; rx: Receiver; delivery: DeliveryWorker; inbound: { stop(): Promise<void> }; catchAll: { id: string; secret: string } };

export async function startFlow() {
  flow.t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL });
  flow.ws = (await seedWorkspace(flow.t)).workspace;
  flow.rx = await startReceiver();
  flow.catchAll = await endpoint(flow.t, flow.ws.id, '/all', ['*']);
  flow.delivery = await startDeliveryWorker(flow.t, { retryScheduleS: [0.05, 0.1], pollMs: 50 });
  flow.inbound = await startInboundWorker(flow.t, { pollMs: 50, retryScheduleS: RETRY });
  return flow;
}
export async function stopFlow() {
  await flow.inbound?.stop();
  await flow.delivery?.stop();
  await flow.rx?.close();
  await flow.t?.close();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type InboundEvent = {
  id: string; source_id: string; status: string; event_types: string[] | null; provider_type: string | null; attempts: number; published_event_ids: string[];
  last_error: string | null; body?: string; content_type?: string; headers?: Record<string, string>; source_ip?: string; user_agent?: string | null;
};
export type Outbound = { type: string; timestamp: string; data: { inbound_event_id: string; source: { id: string; provider: string; name: string }; provider_type: string; data: any } };

// ---- signing, per PROVIDERS.md -------------------------------------------------------------------
export const twilioSignature = (token: string, url: string, params: Record<string, string>) =>
  createHmac('sha1', token).update(url + Object.keys(params).sort().map((k) => k + params[k]).join('')).digest('base64');
export const metaSignature = (secret: string, body: string) => 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
export function vonageJwt(secret: string, body: string) {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ iat: Math.floor(Date.now() / 1000), jti: randomUUID(), payload_hash: createHash('sha256').update(body).digest('hex') })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
export function standardHeaders(secret: string, body: string, msgId = `msg_${randomUUID()}`) {
  const now = new Date();
  return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new StandardWebhook(secret).sign(msgId, now, body) };
}

// ---- helpers -------------------------------------------------------------------------------------
export async function source(app: TestApp, wsId: string, input: Record<string, unknown>) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/inbound-sources`, { name: `src-${randomUUID().slice(0, 8)}`, ...input });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret?: string; provider: string; name: string };
}
export async function post(app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}, path = '') {
  const res = await app.app.inject({
    method: 'POST',
    url: `/hooks/${sourceId}${path}`,
    payload: body,
    headers: { 'content-type': 'application/json', 'user-agent': 'provider-test/1.0', ...headers },
  });
  return res;
}
export async function accepted(app: TestApp, sourceId: string, body: string, headers: Record<string, string> = {}, path = '') {
  const res = await post(app, sourceId, body, headers, path);
  expect(res.statusCode, res.body).toBe(200);
  const id = res.headers['x-gatehouse-inbound-event'] as string;
  expect(id).toBeTruthy();
  return id;
}
export const getEvent = async (app: TestApp, id: string) => {
  const res = await app.call(app.adminKey, 'GET', `/v1/inbound-events/${id}`);
  expect(res.status, res.raw).toBe(200);
  return res.body as InboundEvent;
};
export const settled = (app: TestApp, id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    const e = await getEvent(app, id);
    return ['processed', 'ignored', 'failed'].includes(e.status) ? e : null;
  }, timeoutMs);
export async function endpoint(app: TestApp, wsId: string, path: string, events: string[]) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${flow.rx.url}${path}`, events });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string };
}
/** The messages the receiver got on `path`, verified with the endpoint's secret, optionally only those of one inbound event. */
export function messages(path: string, secret: string, inboundId?: string): Outbound[] {
  return flow.rx.received
    .filter((r) => r.url === path)
    .map((r) => new StandardWebhook(secret).verify(r.body, r.headers as Record<string, string>) as Outbound)
    .filter((m) => inboundId === undefined || m.data?.inbound_event_id === inboundId);
}
/**
 * The deliveries of outbound events `of` (their ids, or all of a workspace), once each is finished
 * (succeeded or dead): no request of theirs is sent after this, so what the receiver holds is final.
 */
export const finishedDeliveries = (app: TestApp, of: string[] | { workspaceId: string }) =>
  eventually(async () => {
    if (Array.isArray(of) && of.length === 0) return [];
    const q = app.db.database.db.selectFrom('webhook_deliveries').select(['id', 'event_id', 'endpoint_id', 'status']);
    const rows = await (Array.isArray(of) ? q.where('event_id', 'in', of) : q.where('workspace_id', '=', of.workspaceId)).execute();
    return rows.every((r) => r.status === 'succeeded' || r.status === 'dead') ? rows : null;
  });
/**
 * An inbound event settled without publishing anything: it is marked in the transaction that would
 * have published, so once it is settled nothing of it can reach an endpoint.
 */
export async function settledUnpublished(app: TestApp, id: string) {
  const e = await settled(app, id);
  expect(e.published_event_ids).toEqual([]);
  return e;
}
export const publishedFor = (inboundId: string, n: number) =>
  eventually(async () => {
    const got = messages('/all', flow.catchAll.secret, inboundId);
    return got.length >= n ? got : null;
  });

