import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Traces as an operator's collector would receive them (an in-memory exporter on the real SDK
// stands in for OTLP): the caller's trace → the accept span → each delivery attempt, made later by
// the worker from the stored traceparent; ids and outcomes only, no secret anywhere.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

let t: TestApp;
let rx: Receiver;
let worker: DeliveryWorker;
beforeAll(async () => {
  t = await createTestApp();
  rx = await startReceiver((_req, n) => (n === 1 ? { status: 503 } : undefined));
  worker = await startDeliveryWorker(t, { retryScheduleS: [0, 0.2] });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await rx?.close();
  await provider.shutdown();
});

test('one trace from the caller through accept to every delivery attempt, with the workspace id and no secrets', async () => {
  const ws = await seedWorkspace(t);
  const authToken = `tok_${randomBytes(12).toString('hex')}`;
  const ep = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: `${rx.url}/hook?token=query-secret-123`, events: ['lead.created'], auth_token: authToken });
  expect(ep.status, ep.raw).toBe(201);
  const traceId = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const res = await t.app.inject({
    method: 'POST', url: `/v1/workspaces/${ws.workspace.id}/events`,
    headers: { authorization: `Bearer ${ws.key}`, traceparent: `00-${traceId}-${callerSpan}-01` },
    payload: { type: 'lead.created', payload: { email: 'lead@example.com' } },
  });
  expect(res.statusCode, res.body).toBe(202);
  await rx.waitFor(2);
  const attempts = await eventually(async () => {
    const a = exporter.getFinishedSpans().filter((s) => s.name === 'gatehouse.webhook.attempt');
    return a.length === 2 && a;
  });

  const accept = exporter.getFinishedSpans().find((s) => s.name === 'gatehouse.event.accept')!;
  expect(accept.spanContext().traceId).toBe(traceId);
  expect(accept.parentSpanContext?.spanId).toBe(callerSpan);
  expect(accept.attributes).toMatchObject({ 'gatehouse.workspace_id': ws.workspace.id, 'gatehouse.event_type': 'lead.created', 'gatehouse.event_id': res.json().event_id, 'gatehouse.deliveries': 1 });

  for (const a of attempts) {
    expect(a.spanContext().traceId).toBe(traceId);
    expect(a.parentSpanContext?.spanId).toBe(accept.spanContext().spanId);
    expect(a.attributes['gatehouse.workspace_id']).toBe(ws.workspace.id);
    expect(a.attributes['server.address']).toBe('127.0.0.1');
  }
  expect(attempts.map((a) => [a.attributes['gatehouse.attempt'], a.attributes['http.response.status_code'], a.attributes['gatehouse.outcome']]).sort()).toEqual([
    [1, 503, 'retrying'],
    [2, 200, 'succeeded'],
  ]);

  const everything = JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
  for (const leak of [ep.body.secret, authToken, 'query-secret-123', 'lead@example.com', ws.key]) expect(everything).not.toContain(leak);
});

test('without a traceparent from the caller the accept span starts the trace, and the attempt still joins it', async () => {
  exporter.reset();
  rx.respondWith(() => undefined);
  const ws = await seedWorkspace(t);
  expect((await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: `${rx.url}/two`, events: ['lead.created'] })).status).toBe(201);
  const sent = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/events`, { type: 'lead.created', payload: {} });
  expect(sent.status).toBe(202);
  const attempt = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'gatehouse.webhook.attempt'));
  const accept = exporter.getFinishedSpans().find((s) => s.name === 'gatehouse.event.accept')!;
  expect(accept.parentSpanContext).toBeUndefined();
  expect(attempt.spanContext().traceId).toBe(accept.spanContext().traceId);
  expect(attempt.parentSpanContext?.spanId).toBe(accept.spanContext().spanId);
});
