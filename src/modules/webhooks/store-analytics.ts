import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';

// Reads of the 5-minute roll-ups (never the attempts table) and of the endpoints they name.

export interface StatSums {
  attempts: number;
  succeeded: number;
  failed: number;
  latency_sum_ms: number;
}

/**
 * A workspace's roll-ups since `since` (of one endpoint, or all): summed per `step`, per endpoint,
 * and per endpoint and latency bucket (`i` from 1), in three statements at once.
 */
export async function readStats(db: Executor, workspaceId: string, since: Date, step: string, webhookId?: string) {
  const scope = sql`workspace_id = ${workspaceId} and period >= date_bin('5 minutes', ${since}::timestamptz, timestamptz '2000-01-01')
    ${webhookId ? sql`and endpoint_id = ${webhookId}` : sql``}`;
  const sums = sql`sum(attempts)::float8 as attempts, sum(succeeded)::float8 as succeeded, sum(failed)::float8 as failed, sum(latency_sum_ms)::float8 as latency_sum_ms`;

  const [series, perEndpoint, buckets] = await Promise.all([
    sql<StatSums & { t: Date }>`
      select date_bin(${step}::interval, period, timestamptz '2000-01-01') as t, ${sums}
      from webhook_stats where ${scope} group by 1 order by 1`.execute(db),
    sql<StatSums & { endpoint_id: string }>`
      select endpoint_id, ${sums} from webhook_stats where ${scope} group by 1`.execute(db),
    sql<{ endpoint_id: string; i: number; n: number }>`
      select s.endpoint_id, u.i::int as i, sum(u.v)::float8 as n
      from webhook_stats s, unnest(s.latency_buckets) with ordinality as u(v, i)
      where ${scope} group by 1, 2`.execute(db),
  ]);
  return { series: series.rows, perEndpoint: perEndpoint.rows, buckets: buckets.rows };
}

/** The names and URLs of a workspace's endpoints among `endpointIds`. */
export async function endpointLabels(db: Executor, workspaceId: string, endpointIds: string[]) {
  if (endpointIds.length === 0) return [];
  return db.selectFrom('webhook_endpoints').select(['id', 'name', 'url']).where('workspace_id', '=', workspaceId).where('id', 'in', endpointIds).execute();
}
