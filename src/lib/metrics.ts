import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so two apps in one test process do not share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    keyVerifications: new Counter({
      name: 'gatehouse_key_verifications_total',
      help: 'Gatehouse API key verifications by result code',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    jobsProcessed: new Counter({
      name: 'gatehouse_jobs_total',
      help: 'Jobs run by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Runs a gauge's database read on scrape; when the database cannot be read the gauge keeps its
 * last value, so /metrics still answers through an outage (the claim-failure counters show it).
 */
export async function readOnScrape(read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch {
    // Left as it was: one failed read must not fail the whole scrape.
  }
}
