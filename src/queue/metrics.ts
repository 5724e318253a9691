import { Counter, Gauge, type Registry } from 'prom-client';
import { readOnScrape } from '../lib/metrics.js';

export type QueueName = 'jobs' | 'deliveries' | 'inbound';
type DepthReader = () => Promise<{ depth: number; oldestS: number }>;

/**
 * One set of metrics for every queue, labelled by queue: claims made and items they took, leases
 * that ran out (work whose worker stopped), and the depth and oldest wait, read from the database
 * on scrape (one query per queue serves both gauges).
 */
export function createQueueMetrics(registry: Registry) {
  const readers = new Map<QueueName, DepthReader>();
  const reading = new Map<QueueName, Promise<{ depth: number; oldestS: number }>>();
  const read = (queue: QueueName, reader: DepthReader) => {
    let p = reading.get(queue);
    if (!p) {
      p = reader().finally(() => setTimeout(() => reading.delete(queue), 0));
      reading.set(queue, p);
    }
    return p;
  };
  const gauge = (name: string, help: string, pick: (d: { depth: number; oldestS: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      collect() {
        return readOnScrape(async () => {
          for (const [queue, reader] of readers) this.set({ queue }, pick(await read(queue, reader)));
        });
      },
    });
  gauge('gatehouse_queue_depth', 'Work due now that no worker holds, by queue (jobs, deliveries, inbound)', (d) => d.depth);
  gauge('gatehouse_queue_oldest_due_seconds', 'How long the oldest due work has waited, by queue', (d) => d.oldestS);
  return {
    claims: new Counter({ name: 'gatehouse_queue_claims_total', help: 'Claims made (statements that took work), by queue', labelNames: ['queue'] as const, registers: [registry] }),
    claimed: new Counter({ name: 'gatehouse_queue_claimed_total', help: 'Items taken by claims, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    claimFailures: new Counter({ name: 'gatehouse_queue_claim_failures_total', help: 'Claims that failed (the database could not be reached or refused), by queue', labelNames: ['queue'] as const, registers: [registry] }),
    leaseExpiries: new Counter({ name: 'gatehouse_queue_lease_expiries_total', help: 'Leases that ran out (the worker holding the work stopped) and were reclaimed, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    /** Reports this queue's depth on scrape. */
    watch(queue: QueueName, reader: DepthReader) {
      readers.set(queue, reader);
    },
  };
}
export type QueueMetrics = ReturnType<typeof createQueueMetrics>;
