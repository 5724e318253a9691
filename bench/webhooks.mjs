// Benchmark: outbound webhook delivery end to end (event accepted → signed POST received → attempt
// logged) against a raw undici POST loop to the same receiver, in the same run, on PGlite and on
// PostgreSQL; accepted → first-attempt latency when idle; the analytics query at 1M attempts.
// See bench/README.md.
//
//   npm run bench:webhooks
//   BENCH_EVENTS=500 BENCH_ANALYTICS_ROWS=100000 npm run bench:webhooks     (quicker)
//   BENCH_CPU_PROF=1 npm run bench:webhooks                                 (profiles Gatehouse; paths printed)
//   BENCH_ONLY=postgres npm run bench:webhooks                              (one database only)
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { databaseFloor } from './webhook-floor.mjs';
import { api, envNumber, fmtInt, fmtMs, freePort, gatehouseEnv, here, round, startGatehouse, startListener, stopAllChildren, stopChild, table } from './lib.mjs';

const EVENTS = Math.round(envNumber('BENCH_EVENTS', 1000)); // each goes to ENDPOINTS endpoints
const ENDPOINTS = 4;
const CONCURRENCY = 32; // GATEHOUSE_DELIVERY_CONCURRENCY's default, for both targets
const SEND_CONCURRENCY = 16;
const IDLE_EVENTS = Math.round(envNumber('BENCH_IDLE_EVENTS', 100));
const IDLE_GAP_MS = 30;
const ANALYTICS_ROWS = Math.round(envNumber('BENCH_ANALYTICS_ROWS', 1_000_000));
const FLOOR_DELIVERIES = Math.round(envNumber('BENCH_FLOOR_DELIVERIES', 20_000));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGETS = { ratioPostgres: 0.5, p50Ms: 25 };
const RESULTS_FILE = join(here, 'results', 'webhooks-latest.json');
// Mirrors LATENCY_BOUNDS_MS in src/modules/webhooks/record.ts (the roll-up's histogram).
const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

const body = JSON.stringify({ type: 'lead.created', timestamp: new Date().toISOString(), data: { lead_id: 123456, email: 'someone@example.com' } });
const percentile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
const getJson = async (url) => (await fetch(url)).json();

/** The baseline: the same POSTs straight from here, CONCURRENCY at a time over a keep-alive pool. */
async function rawLoop(receiverUrl, n) {
  const pool = new Pool(receiverUrl, { connections: CONCURRENCY });
  let next = 0;
  const one = async () => {
    while (next < n) {
      next++;
      const res = await pool.request({ path: '/raw', method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'raw' }, body });
      await res.body.text();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, one)); // warm-up pass
  next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { deliveries: n, seconds: round(seconds, 3), perSecond: round(n / seconds, 0) };
}

async function setUp(gh, receiverUrl) {
  const org = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'bench org' });
  const ws = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
  const wsId = ws.json.id;
  const endpoints = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    const ep = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${receiverUrl}/ep${i}`, events: ['lead.created'], max_in_flight: 16 });
    endpoints.push(ep.json.id);
  }
  await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${receiverUrl}/idle`, events: ['meeting.completed'] });
  const key = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'bench', scopes: ['events:write', 'webhooks:read'] });
  return { wsId, endpoints, key: key.json.key };
}

/** EVENTS events (× ENDPOINTS deliveries), from the first accept until every attempt is logged. */
async function throughput(gh, tenant, receiverUrl) {
  await fetch(`${receiverUrl}/reset`, { method: 'POST' });
  const sendPool = new Pool(gh.url, { connections: SEND_CONCURRENCY });
  let next = 0;
  const payload = JSON.stringify({ type: 'lead.created', payload: { lead_id: 123456, email: 'someone@example.com' } });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, async () => {
    while (next < EVENTS) {
      next++;
      const res = await sendPool.request({ path: `/v1/workspaces/${tenant.wsId}/events`, method: 'POST', headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' }, body: payload });
      if (res.statusCode !== 202) throw new Error(`event refused: ${res.statusCode} ${await res.body.text()}`);
      await res.body.text();
    }
  }));
  const acceptedS = (performance.now() - t0) / 1000;
  await sendPool.close();
  const want = EVENTS * ENDPOINTS;
  let logged = 0;
  for (;;) {
    logged = 0;
    for (const id of tenant.endpoints) logged += (await api(gh.url, tenant.key, 'GET', `/v1/webhooks/${id}`)).json.stats.succeeded;
    if (logged >= want) break;
    if (performance.now() - t0 > 600_000) throw new Error(`only ${logged} of ${want} deliveries logged after 10 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const { count: received, perQuarterSecond } = await getJson(`${receiverUrl}/stats`);
  return { deliveries: want, received, logged, perQuarterSecond, acceptedSeconds: round(acceptedS, 3), seconds: round(seconds, 3), perSecond: round(want / seconds, 0) };
}

/** One event at a time, IDLE_GAP_MS apart: from the 202 to the first attempt's arrival. */
async function idleLatency(gh, tenant, receiverUrl) {
  await fetch(`${receiverUrl}/reset`, { method: 'POST' });
  const accepted = {};
  for (let i = 0; i < IDLE_EVENTS; i++) {
    const res = await api(gh.url, tenant.key, 'POST', `/v1/workspaces/${tenant.wsId}/events`, { type: 'meeting.completed', payload: { i } });
    accepted[res.json.event_id] = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_GAP_MS));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const { arrivals } = await getJson(`${receiverUrl}/stats`);
  const lat = Object.entries(accepted).map(([id, at]) => (arrivals[id] === undefined ? null : arrivals[id] - at));
  const missing = lat.filter((x) => x === null).length;
  const sorted = lat.filter((x) => x !== null).sort((a, b) => a - b);
  return { events: IDLE_EVENTS, missing, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? null };
}

/** ANALYTICS_ROWS attempts over 30 days for one endpoint, rolled up as record.ts does; the API's query timed. */
async function analyticsAtScale(gh, dbUrl) {
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
     from generate_series(1, $3) g`, [wsId, ep.json.id, ANALYTICS_ROWS]);
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
      if (i === 0 && window === '30d' && res.json.total !== ANALYTICS_ROWS) throw new Error(`analytics counted ${res.json.total} of ${ANALYTICS_ROWS} attempts`);
    }
    return round(times.sort((a, b) => a - b)[3], 2);
  };
  return { attempts: ANALYTICS_ROWS, rollupRows: rollups, fillSeconds: round(fillSeconds, 1), window30dMs: await timeQuery('30d'), window24hMs: await timeQuery('24h') };
}

async function runOn(kind, receiverUrl, dataDir) {
  let dbUrl;
  let dropDb = async () => {};
  const extra = { GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' };
  if (kind === 'postgres') {
    const name = `gatehouse_bench_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    dbUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
    extra.DATABASE_URL = dbUrl;
    dropDb = async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const profileDir = process.env.BENCH_CPU_PROF ? join(dataDir, `profile-${kind}`) : undefined;
  const gh = await startGatehouse(gatehouseEnv(join(dataDir, kind), await freePort(), extra), profileDir);
  if (profileDir) process.stderr.write(`${kind}: CPU profile in ${profileDir}\n`);
  try {
    const tenant = await setUp(gh, receiverUrl);
    process.stderr.write(`${kind}: throughput (${EVENTS * ENDPOINTS} deliveries)…\n`);
    const tp = await throughput(gh, tenant, receiverUrl);
    process.stderr.write(`${kind}: idle latency (${IDLE_EVENTS} events)…\n`);
    const idle = await idleLatency(gh, tenant, receiverUrl);
    let analytics = null;
    if (kind === 'postgres') {
      process.stderr.write(`${kind}: analytics at ${fmtInt(ANALYTICS_ROWS)} attempts…\n`);
      analytics = await analyticsAtScale(gh, dbUrl);
    }
    return { throughput: tp, idle, analytics };
  } finally {
    await stopChild(gh.proc);
    await dropDb();
  }
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-webhooks-'));
  const receiver = await startListener('receiver', join(here, 'webhook-receiver.mjs'));
  try {
    process.stderr.write('baseline: raw undici POST loop…\n');
    const raw = await rawLoop(receiver.url, EVENTS * ENDPOINTS);
    const only = process.env.BENCH_ONLY; // postgres | pglite: one database only (while profiling)
    const skipped = { throughput: { perSecond: NaN, received: '–' }, idle: { p50Ms: null, p99Ms: null, missing: '–' }, analytics: null };
    const pglite = only === 'postgres' ? skipped : await runOn('pglite', receiver.url, dataDir);
    const rawAgain = await rawLoop(receiver.url, EVENTS * ENDPOINTS);
    const postgres = only === 'pglite' ? skipped : await runOn('postgres', receiver.url, dataDir);
    process.stderr.write('postgres: database floor (accept, claim and record alone, batches of 400)…\n');
    const floor = only === 'pglite' ? null : await databaseFloor(PG_ADMIN_URL, FLOOR_DELIVERIES);
    const baseline = (raw.perSecond + rawAgain.perSecond) / 2;
    const rows = [
      { label: 'raw undici POST loop', r: { perSecond: baseline, seconds: (raw.seconds + rawAgain.seconds) / 2, othersCpu: null } },
      { label: 'gatehouse on PGlite', r: { ...pglite.throughput, idle: pglite.idle, othersCpu: null } },
      { label: 'gatehouse on PostgreSQL', r: { ...postgres.throughput, idle: postgres.idle, othersCpu: null } },
    ];
    const cols = [
      ['deliveries/s', (r) => fmtInt(r.perSecond)],
      ['÷ raw', (r) => (r.perSecond / baseline).toFixed(2)],
      ['idle p50 ms', (r) => (r.idle ? fmtMs(r.idle.p50Ms) : '–')],
      ['idle p99 ms', (r) => (r.idle ? fmtMs(r.idle.p99Ms) : '–')],
    ];
    const ratioPg = postgres.throughput.perSecond / baseline;
    const verdict = (ok) => (ok ? 'PASS' : 'MISS');
    const out = [
      `Gatehouse webhook delivery vs a raw undici POST loop — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPUs; ${EVENTS} events × ${ENDPOINTS} endpoints = ${EVENTS * ENDPOINTS} deliveries per target; ${CONCURRENCY} concurrent requests each (raw: ${fmtInt(raw.perSecond)} then ${fmtInt(rawAgain.perSecond)}/s)`,
      '',
      table(rows, cols, ''),
      '',
      `end to end = from the first event sent until every delivery's attempt is logged (endpoint stats); received by the receiver: PGlite ${pglite.throughput.received}, PostgreSQL ${postgres.throughput.received} of ${EVENTS * ENDPOINTS}`,
      `idle latency = the event's 202 → the first attempt's arrival, ${IDLE_EVENTS} events ${IDLE_GAP_MS} ms apart (missing: PGlite ${pglite.idle.missing}, PostgreSQL ${postgres.idle.missing})`,
      postgres.analytics && `analytics at ${fmtInt(postgres.analytics.attempts)} attempts (PostgreSQL; ${fmtInt(postgres.analytics.rollupRows)} roll-up rows, filled in ${postgres.analytics.fillSeconds} s): window=30d ${postgres.analytics.window30dMs} ms, window=24h ${postgres.analytics.window24hMs} ms (median of 7, HTTP included)`,
      '',
      `PostgreSQL deliveries/s ÷ raw loop      ${ratioPg.toFixed(2)}      target ≥ ${TARGETS.ratioPostgres}   ${verdict(ratioPg >= TARGETS.ratioPostgres)}`,
      `idle p50, PostgreSQL                    ${fmtMs(postgres.idle.p50Ms)} ms   target ≤ ${TARGETS.p50Ms} ms  ${verdict(postgres.idle.p50Ms <= TARGETS.p50Ms)}`,
      `idle p50, PGlite                        ${fmtMs(pglite.idle.p50Ms)} ms   target ≤ ${TARGETS.p50Ms} ms  ${verdict(pglite.idle.p50Ms <= TARGETS.p50Ms)}`,
      `(info) PGlite deliveries/s ÷ raw loop   ${(pglite.throughput.perSecond / baseline).toFixed(2)}`,
      floor && `(info) database floor ÷ raw loop      ${(floor.perSecond / baseline).toFixed(2)}   (${fmtInt(floor.perSecond)} deliveries/s: Gatehouse's accept, claim and record statements alone, ${floor.batch} at a time, no HTTP; PostgreSQL reached ${(postgres.throughput.perSecond / floor.perSecond).toFixed(2)} of it)`,
    ].filter((line) => typeof line === 'string');
    process.stdout.write(out.join('\n') + '\n');
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({ at: new Date().toISOString(), raw: [raw, rawAgain], pglite, postgres, floor, targets: TARGETS }, null, 2));
    process.stdout.write(`\nresults: ${RESULTS_FILE.replace(`${here}/`, 'bench/')}\n`);
  } finally {
    await stopChild(receiver.proc);
    await stopAllChildren();
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench:webhooks could not run: ${err.stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});
