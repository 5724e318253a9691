// Benchmark: retention at volume on PostgreSQL. Loads a million rows (call log, webhook events with
// deliveries and attempts, inbound events and refusals; 90% past retention) into a fresh database,
// reports each table's size per million rows, then runs the prune jobs in a Gatehouse `serve` while
// API reads and writes run, and compares their latency with the same load idle. See bench/README.md.
//
//   npm run bench:retention
//   BENCH_ROWS=200000 npm run bench:retention     (quicker)
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { retentionRowsSql } from '../test/helpers/retention-rows.mjs';
import { api, createPgDatabase, envNumber, fmtMs, freePort, gatehouseEnv, here, round, Samples, sleep, startGatehouse, stopAllChildren, stopChild } from './lib.mjs';

const ROWS = Math.round(envNumber('BENCH_ROWS', 1_000_000));
const IDLE_S = envNumber('BENCH_IDLE_S', 10);
const CLIENTS = 4;
const THINK_MS = 5;
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RESULTS_FILE = join(here, 'results', 'retention-latest.json');
// Gatehouse's defaults (src/config.ts); the bench does not change them.
const RETENTION = { callLog: 90, webhooks: 30, inbound: 30 };
const PRUNE_JOBS = ['upstream.prune-logs', 'webhooks.prune', 'inbound.prune'];
const TABLES = ['upstream_calls', 'events', 'webhook_deliveries', 'webhook_attempts', 'inbound_events', 'inbound_rejections'];

/** API reads of the pruned tables and event writes from CLIENTS loops until `until()` says stop; latency in ms. */
async function measure(gh, ids, until) {
  const pool = new Pool(gh.url, { connections: CLIENTS });
  const requests = [
    { method: 'GET', path: `/v1/workspaces/${ids.ws}/api-logs?limit=20` },
    { method: 'GET', path: `/v1/workspaces/${ids.ws}/inbound-events?limit=20` },
    { method: 'GET', path: `/v1/webhooks/${ids.endpoint}/deliveries?limit=20` },
    { method: 'POST', path: `/v1/workspaces/${ids.ws}/events`, body: JSON.stringify({ type: 'lead.updated', payload: { lead_id: 1 } }) },
  ];
  const samples = new Samples();
  let failed = 0;
  const client = async (offset) => {
    for (let i = offset; !(await until()); i++) {
      const r = requests[i % requests.length];
      const t0 = performance.now();
      const res = await pool.request({ ...r, headers: { authorization: `Bearer ${ids.key}`, ...(r.body ? { 'content-type': 'application/json' } : {}) } });
      await res.body.text();
      if (res.statusCode >= 300) failed++;
      else samples.push(performance.now() - t0);
      await sleep(THINK_MS);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  await pool.close();
  const [p50, p95, p99] = samples.percentiles(50, 95, 99);
  return { requests: samples.length, failed, seconds: round((performance.now() - t0) / 1000, 1), p50Ms: round(p50, 2), p95Ms: round(p95, 2), p99Ms: round(p99, 2) };
}

async function tableSizes(client) {
  const sizes = {};
  for (const table of TABLES) {
    const r = await client.query(`select count(*)::bigint as rows, pg_relation_size($1) as heap, pg_total_relation_size($1) as total from ${table}`, [table]);
    const rows = Number(r.rows[0].rows);
    const total = Number(r.rows[0].total);
    sizes[table] = { rows, totalMB: round(total / 2 ** 20, 1), heapMB: round(Number(r.rows[0].heap) / 2 ** 20, 1), bytesPerRow: Math.round(total / rows), mbPerMillion: round((total / rows) * 1e6 / 2 ** 20, 0) };
  }
  return sizes;
}

async function main() {
  const db = await createPgDatabase(PG_ADMIN_URL);
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-retention-'));
  const gh = await startGatehouse(gatehouseEnv(dataDir, await freePort(), { DATABASE_URL: db.url, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' }));
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const org = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'bench org' });
    const ws = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
    const key = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/api-keys`, { name: 'bench', scopes: ['*'] });
    // Nothing listens here, and the loaded deliveries are finished or not due for a month: the worker sends nothing.
    const ep = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/webhooks`, { url: 'http://127.0.0.1:9/hooks', events: ['lead.created'] });
    const src = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/inbound-sources`, { provider: 'standard', name: 'bench' });
    const ids = { ws: ws.json.id, endpoint: ep.json.id, key: key.json.key };

    process.stderr.write(`loading ${ROWS.toLocaleString('en-US')} rows…\n`);
    let t0 = performance.now();
    for (const statement of retentionRowsSql({ workspaceId: ids.ws, sourceId: src.json.id, endpointId: ids.endpoint, rows: ROWS, retention: RETENTION })) await client.query(statement);
    const loadS = round((performance.now() - t0) / 1000, 1);
    await client.query('checkpoint'); // the load's dirty pages written now, not during the idle run
    const sizes = await tableSizes(client);

    process.stderr.write('idle: API load…\n');
    t0 = performance.now();
    await measure(gh, ids, async () => performance.now() - t0 > 2000); // warm-up: routes compiled, caches filled
    t0 = performance.now();
    const idle = await measure(gh, ids, async () => performance.now() - t0 > IDLE_S * 1000);

    process.stderr.write('pruning under the same API load…\n');
    const { rows: [{ id: firstJob }] } = await client.query(`select coalesce(max(id), 0) as id from jobs`);
    for (const kind of PRUNE_JOBS) {
      await client.query(`insert into jobs (kind, max_attempts) values ($1, 1)`, [kind]);
      await client.query(`select pg_notify('gatehouse_jobs', $1)`, [kind]);
    }
    t0 = performance.now();
    let lastCheck = 0;
    let finished = false;
    const pruneDone = async () => {
      if (performance.now() - lastCheck < 250) return finished;
      lastCheck = performance.now();
      const r = await client.query(`select count(*) filter (where status in ('pending', 'running'))::int as open from jobs where id > $1 and kind = any($2)`, [firstJob, PRUNE_JOBS]);
      return (finished = r.rows[0].open === 0);
    };
    const during = await measure(gh, ids, pruneDone);
    const pruneS = round((performance.now() - t0) / 1000, 1);
    const jobs = (await client.query(`select kind, status, result from jobs where id > $1 and kind = any($2) order by id`, [firstJob, PRUNE_JOBS])).rows;
    const removed = {};
    for (const j of jobs) for (const [table, o] of Object.entries(j.result ?? {})) removed[table] = (removed[table] ?? 0) + o.removed;
    const left = await tableSizes(client);

    const perMillion = (...tables) => tables.reduce((sum, [t, k]) => sum + sizes[t].mbPerMillion * k, 0);
    const out = [
      `Gatehouse retention on PostgreSQL — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPUs; ${ROWS.toLocaleString('en-US')} rows loaded in ${loadS} s, 90% past retention`,
      '',
      '  table                 rows        total MB   heap MB   bytes/row   MB per 1M rows   rows after prune',
      ...TABLES.map((t) => `  ${t.padEnd(20)}  ${String(sizes[t].rows).padStart(9)}   ${String(sizes[t].totalMB).padStart(8)}   ${String(sizes[t].heapMB).padStart(7)}   ${String(sizes[t].bytesPerRow).padStart(9)}   ${String(sizes[t].mbPerMillion).padStart(14)}   ${String(left[t].rows).padStart(16)}`),
      '',
      `  per million: call log rows ${perMillion(['upstream_calls', 1])} MB; inbound events ${perMillion(['inbound_events', 1])} MB; ` +
        `outbound events with one delivery and 3 attempts each ${perMillion(['events', 1], ['webhook_deliveries', 1], ['webhook_attempts', 3])} MB`,
      '',
      `  prune jobs: ${jobs.length} run(s) (${jobs.map((j) => `${j.kind} ${j.status}`).join(', ')}) in ${pruneS} s; removed ${JSON.stringify(removed)}`,
      '',
      `  API latency (${CLIENTS} clients, ${THINK_MS} ms apart)   requests   failed   p50 ms   p95 ms   p99 ms`,
      `  idle                                  ${String(idle.requests).padStart(8)}   ${String(idle.failed).padStart(6)}   ${fmtMs(idle.p50Ms).padStart(6)}   ${fmtMs(idle.p95Ms).padStart(6)}   ${fmtMs(idle.p99Ms).padStart(6)}`,
      `  during pruning                        ${String(during.requests).padStart(8)}   ${String(during.failed).padStart(6)}   ${fmtMs(during.p50Ms).padStart(6)}   ${fmtMs(during.p95Ms).padStart(6)}   ${fmtMs(during.p99Ms).padStart(6)}`,
      `  during ÷ idle: p50 ${(during.p50Ms / idle.p50Ms).toFixed(2)}, p95 ${(during.p95Ms / idle.p95Ms).toFixed(2)}, p99 ${(during.p99Ms / idle.p99Ms).toFixed(2)}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({ at: new Date().toISOString(), rows: ROWS, loadS, sizes, left, pruneS, jobs, idle, during }, null, 2));
    process.stdout.write(`\nresults: ${RESULTS_FILE.replace(`${here}/`, 'bench/')}\n`);
  } finally {
    await client.end();
    await stopChild(gh.proc);
    await db.drop();
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench:retention could not run: ${err.stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});
