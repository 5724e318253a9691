import { sql, type Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import { FAILING_AFTER } from './service.js';

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
    async collect() {
      const r = await sql<{ healthy: number; degraded: number; failing: number }>`
        select count(*) filter (where coalesce(h.consecutive_failures, 0) = 0)::int as healthy,
               count(*) filter (where h.consecutive_failures between 1 and ${FAILING_AFTER - 1})::int as degraded,
               count(*) filter (where h.consecutive_failures >= ${FAILING_AFTER})::int as failing
        from credentials c
        join workspaces w on w.id = c.workspace_id and w.status = 'active'
        left join credential_health h on h.workspace_id = c.workspace_id and h.provider = c.provider`.execute(db);
      const row = r.rows[0] ?? { healthy: 0, degraded: 0, failing: 0 };
      for (const status of ['healthy', 'degraded', 'failing'] as const) this.set({ status }, row[status]);
    },
  });
}
