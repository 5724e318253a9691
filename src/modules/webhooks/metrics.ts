import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import { readOnScrape } from '../../lib/metrics.js';
import { deadLetterCount, queueDepth } from './store-recovery.js';

/** Delivery metrics on the app's registry; the queue gauges are read from the database on scrape. */
export function createWebhookMetrics(registry: Registry, db: Kysely<DB>) {
  let last: Promise<{ depth: number; oldestS: number }> | undefined;
  // One query per scrape serves both gauges.
  const read = () => (last ??= queueDepth(db).finally(() => setTimeout(() => (last = undefined), 0)));
  new Gauge({
    name: 'gatehouse_webhook_queue_depth',
    help: 'Webhook deliveries due now and not yet claimed',
    registers: [registry],
    collect() {
      return readOnScrape(async () => this.set((await read()).depth));
    },
  });
  new Gauge({
    name: 'gatehouse_webhook_oldest_due_seconds',
    help: 'How long the oldest due webhook delivery has waited',
    registers: [registry],
    collect() {
      return readOnScrape(async () => this.set((await read()).oldestS));
    },
  });
  new Gauge({
    name: 'gatehouse_webhook_dead_letters',
    help: 'Webhook deliveries in the dead-letter list (every try failed; replayable until pruned)',
    registers: [registry],
    collect() {
      return readOnScrape(async () => this.set(await deadLetterCount(db)));
    },
  });
  return {
    deliveries: new Counter({
      name: 'gatehouse_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (succeeded, retrying, failed = dead-lettered)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    attemptDuration: new Histogram({
      name: 'gatehouse_webhook_attempt_duration_seconds',
      help: 'Webhook attempt latency (request sent to response read) by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
