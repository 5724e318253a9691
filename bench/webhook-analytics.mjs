// bench:webhooks' analytics at scale (PostgreSQL): a million attempts over 30 days for one
// endpoint, rolled up into 5-minute rows as the worker does, then the analytics API timed.
// See bench/README.md.
import pg from 'pg';
import { api, round } from './lib.mjs';

// Mirrors LATENCY_BOUNDS_MS in src/modules/webhooks/record.ts (the roll-up's histogram).
const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

/** `rows` attempts over 30 days for one endpoint, rolled up as record.ts does; the API's query timed. */
export async function analyticsAtScale(gh, dbUrl, rows) {
  const ws = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'analytics org' });
  const w = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${ws.json.id}/workspaces`, { name: 'analytics' });
  const wsId = w.json.id;
  const ep = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url: 'http://127.0.0.1:9/never', events: ['email.sent'], enabled: false });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const started = performance.now();
  await client.query(`insert into events (id, workspace_id, type, payload) values ('msg_bench', $1, 'email.sent', '{}')`, [wsId]);
  await client.query(`insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, max_attempts) values ('dlv_bench', $1, $2, 'msg_bench', 'succeeded', 9)`, [wsId, ep.json.id]);
  await client.query(
    `insert into webhook_attempts (delivery_id, endpoint_id, workspace_id, attempt, worker_id, url, request_headers, response_status, duration_ms, outcome, created_at)
     select 'dlv_bench', $2, $1, 1, 'bench', 'http://127.0.0.1:9/never', '{}', case when g % 20 = 0 then 500 else 200 end,
       (random() * random() * 2000)::int, case when g % 20 = 0 then 'retrying' else 'succeeded' end,
       now() - (random() * interval '30 days')
     from generate_series(1, $3) g`, [wsId, ep.json.id, rows]);
  const buckets = LATENCY_BOUNDS_MS.map((b, i) => `count(*) filter (where duration_ms ${i === 0 ? '' : `> ${LATENCY_BOUNDS_MS[i - 1]} and duration_ms `}<= ${b})`)
    .concat(`count(*) filter (where duration_ms > ${LATENCY_BOUNDS_MS.at(-1)})`).join(', ');
  await client.query(
    `insert into webhook_stats (workspace_id, endpoint_id, period, attempts, succeeded, failed, latency_sum_ms, latency_buckets)
     select workspace_id, endpoint_id, date_bin('5 minutes', created_at, timestamptz '2000-01-01'), count(*),
       count(*) filter (where outcome = 'succeeded'), count(*) filter (where outcome <> 'succeeded'), sum(duration_ms), array[${buckets}]::bigint[]
     from webhook_attempts where workspace_id = $1 group by 1, 2, 3`, [wsId]);
  const rollups = (await client.query('select count(*)::int as n from webhook_stats where workspace_id = $1', [wsId])).rows[0].n;
  const fillSeconds = (performance.now() - started) / 1000;
  await client.end();
  const timeQuery = async (window) => {
    const times = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const res = await api(gh.url, gh.bootstrapKey, 'GET', `/v1/workspaces/${wsId}/webhooks/analytics?window=${window}`);
      times.push(performance.now() - t0);
      if (i === 0 && window === '30d' && res.json.total !== rows) throw new Error(`analytics counted ${res.json.total} of ${rows} attempts`);
    }
    return round(times.sort((a, b) => a - b)[3], 2);
  };
  return { attempts: rows, rollupRows: rollups, fillSeconds: round(fillSeconds, 1), window30dMs: await timeQuery('30d'), window24hMs: await timeQuery('24h') };
}
