// Benchmark: outbound webhook delivery, on PostgreSQL (the targets) and on the embedded PGlite.
//   end to end   2,000 events to ONE subscribed endpoint, sent with global fetch 16 at a time, from
//                the first accept until the receiver has every signed POST and every attempt is
//                logged, against a global fetch loop (16 at a time) POSTing the same signed body
//                straight to the same receiver, before and after, in the same run; Gatehouse's CPU
//                per delivery from /proc;
//   fan-out      events to 4 endpoints, against a raw undici POST loop at the worker's concurrency;
//   accepts      POST /v1/workspaces/:id/events (202) against a bare Fastify route doing one INSERT
//                (PostgreSQL), same client, alternating rounds; CPU per accept;
//   idle latency accepted → first attempt; analytics at 1M attempts; the database floor.
// Every Gatehouse's idle and peak RSS is printed. See bench/README.md.
//
//   npm run bench:webhooks
//   BENCH_E2E_EVENTS=500 BENCH_EVENTS=250 BENCH_ACCEPTS=1000 BENCH_ANALYTICS_ROWS=100000 BENCH_FLOOR_DELIVERIES=4000 npm run bench:webhooks   (quicker)
//   BENCH_CPU_PROF=1 npm run bench:webhooks                                 (profiles Gatehouse; paths printed)
//   BENCH_ONLY=postgres npm run bench:webhooks                              (one database only)
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Pool } from 'undici';
import { analyticsAtScale } from './webhook-analytics.mjs';
import { acceptsPhase, checkSignature, endToEnd, FETCH_CONCURRENCY, fetchBaseline, setUpWorkspace } from './webhook-e2e.mjs';
import { databaseFloor } from './webhook-floor.mjs';
import {
  api, createPgDatabase, envNumber, fmtInt, fmtMs, freePort, gatehouseEnv, here, memoryLine, round, startGatehouse, startListener, stopAllChildren, stopChild, table,
  trackMemory,
} from './lib.mjs';

const E2E_EVENTS = Math.round(envNumber('BENCH_E2E_EVENTS', 2000));
const E2E_WARMUP = Math.round(envNumber('BENCH_E2E_WARMUP', 100));
// The end-to-end endpoint may have as many deliveries in flight as the fetch loop has requests (an
// endpoint's default is 4; BENCH_E2E_MAX_IN_FLIGHT=4 measures that).
const E2E_MAX_IN_FLIGHT = Math.round(envNumber('BENCH_E2E_MAX_IN_FLIGHT', 16));
const EVENTS = Math.round(envNumber('BENCH_EVENTS', 1000)); // fan-out: each goes to ENDPOINTS endpoints
const ENDPOINTS = 4;
const CONCURRENCY = 32; // GATEHOUSE_DELIVERY_CONCURRENCY's default, for the fan-out run and its undici loop
const SEND_CONCURRENCY = 16;
const ACCEPTS = Math.round(envNumber('BENCH_ACCEPTS', 4000));
const ACCEPT_ROUNDS = Math.round(envNumber('BENCH_ACCEPT_ROUNDS', 4));
const ACCEPT_WARMUP = Math.round(envNumber('BENCH_ACCEPT_WARMUP', 300));
const IDLE_EVENTS = Math.round(envNumber('BENCH_IDLE_EVENTS', 100));
const IDLE_GAP_MS = 30;
const ANALYTICS_ROWS = Math.round(envNumber('BENCH_ANALYTICS_ROWS', 1_000_000));
const FLOOR_DELIVERIES = Math.round(envNumber('BENCH_FLOOR_DELIVERIES', 20_000));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGETS = { endToEndRatio: 0.5, acceptsRatio: 0.7, idleP50Ms: 10 };
const RESULTS_FILE = join(here, 'results', 'webhooks-latest.json');
const LABEL = { pglite: 'PGlite', postgres: 'PostgreSQL' };

const body = JSON.stringify({ type: 'lead.created', timestamp: new Date().toISOString(), data: { lead_id: 123456, email: 'someone@example.com' } });
const percentile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
const getJson = async (url) => (await fetch(url)).json();
const wallNow = () => performance.timeOrigin + performance.now();

/** The fan-out baseline: the same POSTs straight from here, CONCURRENCY at a time over an undici keep-alive pool. */
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

/** Fan-out: EVENTS events (× ENDPOINTS deliveries) over undici, from the first accept until every attempt is logged. */
async function fanOut(gh, tenant, receiverUrl) {
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
    for (const ep of tenant.endpoints.slice(0, ENDPOINTS)) logged += (await api(gh.url, tenant.key, 'GET', `/v1/webhooks/${ep.id}`)).json.stats.succeeded;
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
    accepted[res.json.event_id] = wallNow();
    await new Promise((r) => setTimeout(r, IDLE_GAP_MS));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const { arrivals } = await getJson(`${receiverUrl}/stats`);
  const lat = Object.entries(accepted).map(([id, at]) => (arrivals[id] === undefined ? null : arrivals[id] - at));
  const missing = lat.filter((x) => x === null).length;
  const sorted = lat.filter((x) => x !== null).sort((a, b) => a - b);
  return { events: IDLE_EVENTS, missing, p50Ms: round(percentile(sorted, 0.5), 2), p99Ms: round(percentile(sorted, 0.99), 2), maxMs: round(sorted.at(-1) ?? NaN, 2) };
}

async function runOn(kind, receiver, dataDir) {
  const db = kind === 'postgres' ? await createPgDatabase(PG_ADMIN_URL) : null;
  const extra = { GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true', ...(db ? { DATABASE_URL: db.url } : {}) };
  const profileDir = process.env.BENCH_CPU_PROF ? join(dataDir, `profile-${kind}`) : undefined;
  const gh = await startGatehouse(gatehouseEnv(join(dataDir, kind), await freePort(), extra), profileDir, { name: `gatehouse on ${LABEL[kind]}` });
  if (profileDir) process.stderr.write(`${kind}: CPU profile in ${profileDir}\n`);
  let insertServer = null;
  const result = { kind };
  try {
    const fanoutTenant = await setUpWorkspace(gh, 'fan-out', [
      ...Array.from({ length: ENDPOINTS }, (_, i) => ({ url: `${receiver.url}/ep${i}`, events: ['lead.created'], max_in_flight: 16 })),
      { url: `${receiver.url}/idle`, events: ['meeting.completed'] },
    ]);
    const single = await setUpWorkspace(gh, 'end to end', [{ url: `${receiver.url}/e2e`, events: ['lead.created'], max_in_flight: E2E_MAX_IN_FLIGHT }]);

    process.stderr.write(`${kind}: end to end, warm-up (${E2E_WARMUP} events)…\n`);
    const warm = await endToEnd(gh, single, receiver, E2E_WARMUP);
    checkSignature(warm.sample, single.endpoints[0].secret);
    process.stderr.write(`${kind}: end to end, ${E2E_EVENTS} events to one endpoint, between two fetch loops…\n`);
    const fetchBefore = await fetchBaseline(receiver, warm.sample, E2E_EVENTS);
    const e2e = await endToEnd(gh, single, receiver, E2E_EVENTS);
    const fetchAfter = await fetchBaseline(receiver, warm.sample, E2E_EVENTS);
    delete e2e.sample;
    const fetchMean = (fetchBefore.perSecond + fetchAfter.perSecond) / 2;
    result.endToEnd = { ...e2e, fetchLoop: [fetchBefore, fetchAfter], fetchLoopPerSecond: round(fetchMean, 0), ratio: round(e2e.perSecond / fetchMean, 3) };

    process.stderr.write(`${kind}: fan-out (${EVENTS * ENDPOINTS} deliveries)…\n`);
    result.fanOut = await fanOut(gh, fanoutTenant, receiver.url);

    if (db) {
      // Accepts are measured on a workspace whose only endpoint is disabled: the accept still looks
      // for matching endpoints, but no delivery competes with the accepts that follow.
      insertServer = await startListener('bare INSERT route (PostgreSQL)', join(here, 'insert-baseline.mjs'), { DATABASE_URL: db.url });
      await trackMemory(insertServer.proc);
      const quiet = await setUpWorkspace(gh, 'accepts', [{ url: `${receiver.url}/disabled`, events: ['lead.created'], enabled: false }]);
      process.stderr.write(`${kind}: accepts (${ACCEPTS} per target, ${ACCEPT_ROUNDS} alternating rounds)…\n`);
      const accepts = await acceptsPhase(gh, quiet, insertServer, { n: ACCEPTS, rounds: ACCEPT_ROUNDS, warmup: ACCEPT_WARMUP });
      const stored = await db.count(`select count(*) as n from events where workspace_id = '${quiet.wsId}'`);
      await stopChild(insertServer.proc);
      result.accepts = { ...accepts, stored, expected: ACCEPT_WARMUP + accepts.gatehouse.ok, ratio: round(accepts.gatehouse.perSecond / accepts.baseline.perSecond, 3), baselineMemory: insertServer.proc.memory };
    }

    process.stderr.write(`${kind}: idle latency (${IDLE_EVENTS} events)…\n`);
    result.idle = await idleLatency(gh, fanoutTenant, receiver.url);
    if (db) {
      process.stderr.write(`${kind}: analytics at ${fmtInt(ANALYTICS_ROWS)} attempts…\n`);
      result.analytics = await analyticsAtScale(gh, db.url, ANALYTICS_ROWS);
    }
    return result;
  } finally {
    await stopChild(gh.proc);
    result.memory = gh.proc.memory;
    if (insertServer) await stopChild(insertServer.proc);
    await db?.drop();
  }
}

const ratioText = (x) => (x === null || x === undefined ? '–' : `${x.toFixed(2)}×`);
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

function report(runs, raw, floor) {
  const out = [];
  const { pglite, postgres } = runs;
  const ran = [pglite, postgres].filter(Boolean);
  out.push(`Gatehouse webhook delivery — ${new Date().toISOString()}`, `node ${process.version}, ${cpus().length} CPUs; databases: ${ran.map((r) => LABEL[r.kind]).join(', ')}`, '');

  out.push(`end to end: ${fmtInt(E2E_EVENTS)} events → ONE endpoint, sent with global fetch ${FETCH_CONCURRENCY} at a time, max_in_flight ${E2E_MAX_IN_FLIGHT}; baseline: global fetch ${FETCH_CONCURRENCY} at a time POSTing the same signed body to the same receiver, before and after`);
  const e2eRows = ran.flatMap((r) => [
    { label: `fetch loop → receiver (${LABEL[r.kind]} run, mean)`, r: { perSecond: r.endToEnd.fetchLoopPerSecond, ratio: 1, cpu: null, accepts: null, othersCpu: null } },
    { label: `gatehouse on ${LABEL[r.kind]}`, r: { perSecond: r.endToEnd.perSecond, ratio: r.endToEnd.ratio, cpu: r.endToEnd.gatehouseCpuUsPerDelivery, others: r.endToEnd.othersCpuUsPerDelivery, accepts: r.endToEnd.acceptsPerSecond, othersCpu: null } },
  ]);
  out.push(table(e2eRows, [
    ['deliveries/s', (r) => fmtInt(r.perSecond)],
    ['÷ fetch loop', (r) => ratioText(r.ratio)],
    ['gatehouse CPU µs/delivery', (r) => (r.cpu === null ? '–' : fmtInt(r.cpu))],
    ['other CPU µs/delivery', (r) => (r.others == null ? '–' : fmtInt(r.others))],
    ['accepts/s meanwhile', (r) => fmtInt(r.accepts)],
  ], ''));
  out.push('  (gatehouse CPU: the Gatehouse process, all threads, from /proc over the whole run ÷ deliveries, its accept included; other: the machine less Gatehouse, the receiver and the client: PostgreSQL, and anything else running)', '');

  out.push(`fan-out: ${fmtInt(EVENTS)} events × ${ENDPOINTS} endpoints = ${fmtInt(EVENTS * ENDPOINTS)} deliveries; baseline: a raw undici POST loop, ${CONCURRENCY} at a time (${raw.map((r) => fmtInt(r.perSecond)).join(', ')}/s)`);
  const rawMean = raw.reduce((a, r) => a + r.perSecond, 0) / raw.length;
  out.push(table([
    { label: 'raw undici POST loop (mean)', r: { perSecond: rawMean, othersCpu: null } },
    ...ran.map((r) => ({ label: `gatehouse on ${LABEL[r.kind]}`, r: { perSecond: r.fanOut.perSecond, idle: r.idle, othersCpu: null } })),
  ], [
    ['deliveries/s', (r) => fmtInt(r.perSecond)],
    ['÷ raw', (r) => ratioText(r.perSecond / rawMean)],
    ['idle p50 ms', (r) => (r.idle ? fmtMs(r.idle.p50Ms) : '–')],
    ['idle p99 ms', (r) => (r.idle ? fmtMs(r.idle.p99Ms) : '–')],
  ], ''));
  out.push(`  (idle latency: the event's 202 → the first attempt's arrival, ${IDLE_EVENTS} events ${IDLE_GAP_MS} ms apart; missing: ${ran.map((r) => `${LABEL[r.kind]} ${r.idle.missing}`).join(', ')})`, '');

  const acc = postgres?.accepts;
  if (acc) {
    out.push(`accepts (PostgreSQL): POST /v1/workspaces/:id/events, ${fmtInt(ACCEPTS)} per target in ${ACCEPT_ROUNDS} alternating rounds after ${ACCEPT_WARMUP} each, global fetch ${FETCH_CONCURRENCY} at a time, the same JSON body`);
    out.push(table([
      { label: 'bare Fastify route, one INSERT', r: { ...acc.baseline, othersCpu: null } },
      { label: 'gatehouse, endpoint disabled', r: { ...acc.gatehouse, othersCpu: null } },
      { label: '(info) gatehouse, one endpoint enabled', r: { perSecond: postgres.endToEnd.acceptsPerSecond, p50Ms: postgres.endToEnd.acceptP50Ms, p99Ms: postgres.endToEnd.acceptP99Ms, serverCpuUsPer: null, failed: 0, othersCpu: null } },
    ], [
      ['accepts/s', (r) => fmtInt(r.perSecond)],
      ['÷ INSERT route', (r) => ratioText(r.perSecond / acc.baseline.perSecond)],
      ['p50 ms', (r) => fmtMs(r.p50Ms)],
      ['p99 ms', (r) => fmtMs(r.p99Ms)],
      ['server CPU µs/accept', (r) => (r.serverCpuUsPer == null ? '–' : fmtInt(r.serverCpuUsPer))],
      ['client CPU µs/req', (r) => (r.clientCpuUsPer == null ? '–' : fmtInt(r.clientCpuUsPer))],
      ['failed', (r) => fmtInt(r.failed)],
    ], ''));
    out.push(`  (rounds, accepts/s: INSERT route ${acc.baseline.roundsPerSecond.map(fmtInt).join(' ')}; gatehouse ${acc.gatehouse.roundsPerSecond.map(fmtInt).join(' ')}; ` +
      `the one-endpoint row is the accepts of the end-to-end run, deliveries running meanwhile; events stored ${fmtInt(acc.stored)} of ${fmtInt(acc.expected)} accepted)`, '');
  }
  if (postgres?.analytics) {
    const a = postgres.analytics;
    out.push(`analytics at ${fmtInt(a.attempts)} attempts (PostgreSQL; ${fmtInt(a.rollupRows)} roll-up rows, filled in ${a.fillSeconds} s): window=30d ${a.window30dMs} ms, window=24h ${a.window24hMs} ms (median of 7, HTTP included)`, '');
  }
  for (const r of ran) out.push(memoryLine(`gatehouse on ${LABEL[r.kind]}`, r.memory));
  if (acc) out.push(memoryLine('the bare INSERT route (PostgreSQL)', acc.baselineMemory));
  out.push('');

  if (postgres) {
    out.push(`PostgreSQL end to end ÷ fetch loop      ${ratioText(postgres.endToEnd.ratio)}   target ≥ ${TARGETS.endToEndRatio}×   ${verdict(postgres.endToEnd.ratio >= TARGETS.endToEndRatio)}`);
    if (acc) out.push(`PostgreSQL accepts ÷ INSERT route       ${ratioText(acc.ratio)}   target ≥ ${TARGETS.acceptsRatio}×   ${verdict(acc.ratio >= TARGETS.acceptsRatio)}`);
    out.push(`PostgreSQL idle p50                     ${fmtMs(postgres.idle.p50Ms)} ms   target ≤ ${TARGETS.idleP50Ms} ms   ${verdict(postgres.idle.p50Ms <= TARGETS.idleP50Ms)}`);
  }
  if (pglite) {
    out.push(`(info) PGlite end to end ÷ fetch loop   ${ratioText(pglite.endToEnd.ratio)}`);
    out.push(`(info) PGlite idle p50                  ${fmtMs(pglite.idle.p50Ms)} ms`);
  }
  for (const r of ran) out.push(`(info) ${LABEL[r.kind]} fan-out ÷ raw undici loop   ${ratioText(r.fanOut.perSecond / rawMean)}`);
  if (floor) {
    out.push(`(info) database floor ÷ raw undici loop   ${ratioText(floor.perSecond / rawMean)}   (${fmtInt(floor.perSecond)} deliveries/s: Gatehouse's accept, claim and record statements alone, ` +
      `${floor.batch} at a time, no HTTP${postgres ? `; PostgreSQL fan-out reached ${(postgres.fanOut.perSecond / floor.perSecond).toFixed(2)} of it` : ''})`);
  }
  return { text: out.join('\n'), rawMean };
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-webhooks-'));
  const receiver = await startListener('receiver', join(here, 'webhook-receiver.mjs'));
  try {
    const only = process.env.BENCH_ONLY; // postgres | pglite: one database only (while profiling)
    if (only && !LABEL[only]) throw new Error(`BENCH_ONLY must be postgres or pglite, got ${JSON.stringify(only)}`);
    process.stderr.write('baseline: raw undici POST loop…\n');
    const raw = [await rawLoop(receiver.url, EVENTS * ENDPOINTS)];
    const runs = {};
    if (only !== 'postgres') {
      runs.pglite = await runOn('pglite', receiver, dataDir);
      raw.push(await rawLoop(receiver.url, EVENTS * ENDPOINTS));
    }
    if (only !== 'pglite') runs.postgres = await runOn('postgres', receiver, dataDir);
    let floor = null;
    if (only !== 'pglite') {
      process.stderr.write('postgres: database floor (accept, claim and record alone, batches of 400)…\n');
      floor = await databaseFloor(PG_ADMIN_URL, FLOOR_DELIVERIES);
    }
    const { text, rawMean } = report(runs, raw, floor);
    process.stdout.write(`\n${text}\n`);
    const ratios = {
      postgresEndToEnd: runs.postgres?.endToEnd.ratio ?? null,
      postgresAccepts: runs.postgres?.accepts?.ratio ?? null,
      pgliteEndToEnd: runs.pglite?.endToEnd.ratio ?? null,
      postgresFanOut: runs.postgres ? round(runs.postgres.fanOut.perSecond / rawMean, 3) : null,
      pgliteFanOut: runs.pglite ? round(runs.pglite.fanOut.perSecond / rawMean, 3) : null,
      floor: floor ? round(floor.perSecond / rawMean, 3) : null,
    };
    const config = { e2eEvents: E2E_EVENTS, e2eWarmup: E2E_WARMUP, e2eMaxInFlight: E2E_MAX_IN_FLIGHT, fetchConcurrency: FETCH_CONCURRENCY, fanOutEvents: EVENTS, endpoints: ENDPOINTS, rawConcurrency: CONCURRENCY, accepts: ACCEPTS, acceptRounds: ACCEPT_ROUNDS, acceptWarmup: ACCEPT_WARMUP, idleEvents: IDLE_EVENTS, analyticsRows: ANALYTICS_ROWS, floorDeliveries: FLOOR_DELIVERIES };
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: cpus().length, config, targets: TARGETS, ratios, raw, ...runs, floor }, null, 2) + '\n');
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
