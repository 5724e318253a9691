import { createInboundWorker, type InboundWorker } from '../../src/modules/inbound/process.js';
import type { TestApp } from './app.js';

/** An inbound processing worker on the test app's database. */
export async function startInboundWorker(t: TestApp, opts: { pollMs?: number; retryScheduleS?: number[]; concurrency?: number; batchSize?: number } = {}): Promise<InboundWorker> {
  const worker = createInboundWorker({ database: t.db.database, log: t.services.log, pollMs: opts.pollMs ?? 100, ...opts });
  await worker.start();
  return worker;
}
