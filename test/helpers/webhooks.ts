import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDeliveryWorker, type DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import type { TestApp } from './app.js';

export interface Received {
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Responder = (req: Received, n: number) => { status?: number; headers?: Record<string, string>; body?: string; delayMs?: number } | undefined;

/**
 * A real HTTP receiver on loopback that records every request. `respond` decides each answer
 * (default 200 "ok"); `n` counts requests from 1. `waitFor(k)` resolves once k requests arrived.
 */
export async function startReceiver(respond: Responder = () => undefined) {
  const received: Received[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let handler = respond;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r: Received = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      received.push(r);
      const answer = handler(r, received.length) ?? {};
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? 'ok');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
      for (const w of [...waiters]) if (received.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    respondWith(next: Responder) {
      handler = next;
    },
    waitFor(n: number, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`receiver got ${received.length} requests, expected ${n}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/**
 * A delivery worker on the test app's database, with the app's config unless overridden. As in a
 * served process, the app's accepts hand new deliveries to it (`handOff: false` leaves every
 * delivery to claims, as for a worker in another process); the last worker started takes them.
 */
export async function startDeliveryWorker(t: TestApp, opts: { retryScheduleS?: number[]; disableAfterS?: number; concurrency?: number; workspaceMaxInFlight?: number; pollMs?: number; leaseMarginMs?: number; allowPrivateTargets?: boolean; handOff?: boolean } = {}): Promise<DeliveryWorker> {
  const worker = createDeliveryWorker({
    database: t.db.database,
    ring: t.services.ring,
    log: t.services.log,
    metrics: t.services.webhookMetrics,
    queueMetrics: t.services.queueMetrics,
    concurrency: opts.concurrency ?? t.config.deliveryConcurrency,
    workspaceMaxInFlight: opts.workspaceMaxInFlight ?? t.config.workspaceDeliveryConcurrency,
    retryScheduleS: opts.retryScheduleS ?? t.config.webhookRetryScheduleS,
    disableAfterS: opts.disableAfterS ?? t.config.webhookDisableAfterS,
    allowPrivateTargets: opts.allowPrivateTargets ?? t.config.allowPrivateTargets,
    pollMs: opts.pollMs ?? 200,
    leaseMarginMs: opts.leaseMarginMs,
    clock: t.services.clock,
  });
  await worker.start();
  if (opts.handOff === false) return worker;
  t.services.deliveryHandOffs.offer = worker.offer;
  const stop = worker.stop;
  return Object.assign(worker, {
    async stop() {
      if (t.services.deliveryHandOffs.offer === worker.offer) t.services.deliveryHandOffs.offer = undefined;
      await stop();
    },
  });
}

/** Polls `check` until it returns a truthy value (or throws after timeoutMs). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
