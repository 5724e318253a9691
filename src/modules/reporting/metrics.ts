import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import { readOnScrape } from '../../lib/metrics.js';
import { FAILING_AFTER } from '../health/status.js';
import { credentialHealthCounts } from './store.js';

/**
 * Credentials of active workspaces by health (healthy, degraded, failing), read from the database
 * on scrape, so every process reports the same fleet-wide figure and an alert needs no join.
 */
export function createHealthMetrics(registry: Registry, db: Kysely<DB>) {
  new Gauge({
    name: 'gatehouse_credentials',
    help: `Credentials of active workspaces by health: failing after ${FAILING_AFTER} consecutive failed calls, degraded after one`,
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      return readOnScrape(async () => {
        const row = await credentialHealthCounts(db, FAILING_AFTER);
        for (const status of ['healthy', 'degraded', 'failing'] as const) this.set({ status }, row[status]);
      });
    },
  });
}
