// Benchmark: receiving inbound webhooks. Signed Standard Webhooks requests to a Gatehouse source
// (verified, de-duplicated, committed, 200 after the commit) against a bare Fastify route doing one
// INSERT into the same kind of database (bench/insert-baseline.mjs), both driven by the same client
// (global fetch, 16 requests in flight) in alternating rounds of the same run; on PostgreSQL (the
// target) and on the embedded PGlite. See bench/README.md.
//
//   npm run bench:inbound
//   BENCH_INBOUND_REQUESTS=1000 npm run bench:inbound           (quicker, noisier)
//   BENCH_CPU_PROF=1 BENCH_ONLY=pglite npm run bench:inbound    (profiles Gatehouse on one database)
//
// Gatehouse runs as `gatehouse serve` (API and workers in one process, the default), so the
// processing of what it receives competes for the same CPU, as it would in production.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  api, createPgDatabase, envNumber, fetchLoop, fetchPhase, fmtInt, fmtMs, freePort, gatehouseEnv, here, memoryLine, round, startGatehouse, startListener,
  stopAllChildren, stopChild, table, trackMemory,
} from './lib.mjs';

const REQUESTS = Math.round(envNumber('BENCH_INBOUND_REQUESTS', 4000)); // per target per database
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 4));
const WARMUP = Math.round(envNumber('BENCH_WARMUP_REQUESTS', 300));
const CONCURRENCY = 16;
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGET_RATIO = 0.7;
const RESULTS_FILE = join(here, 'results', 'inbound-latest.json');
const LABEL = { pglite: 'PGlite', postgres: 'PostgreSQL' };

let sequence = 0;
/** A fetch-loop target whose every request is a new message: its own id, a current timestamp and its signature. */
function signedTarget(name, url, secret, pid) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const run = randomBytes(4).toString('hex');
  return {
    name,
    request() {
      const id = `msg_${run}_${++sequence}`;
      const ts = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({ type: 'lead.replied', timestamp: new Date().toISOString(), data: { lead_id: sequence, email: 'someone@example.com', reply: 'Sounds good, send me the details.' } });
      const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
      return [url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signature}` } }];
    },
    status: 200,
    check: (text) => text.includes('"duplicate":false'),
    pids: [pid],
    cpuNames: ['server'],
  };
}

async function runOn(kind, dataDir) {
  const db = kind === 'postgres' ? await createPgDatabase(PG_ADMIN_URL) : null;
  const extra = db ? { DATABASE_URL: db.url } : {};
  const profileDir = process.env.BENCH_CPU_PROF ? join(dataDir, `profile-${kind}`) : undefined;
  const gh = await startGatehouse(gatehouseEnv(join(dataDir, kind), await freePort(), extra), profileDir, { name: `gatehouse on ${LABEL[kind]}` });
  if (profileDir) process.stderr.write(`${kind}: CPU profile in ${profileDir}\n`);
  const baseline = await startListener(`bare INSERT route (${LABEL[kind]})`, join(here, 'insert-baseline.mjs'), db ? { DATABASE_URL: db.url } : { BENCH_DATA_DIR: join(dataDir, `${kind}-baseline`) });
  await trackMemory(baseline.proc);
  let result;
  try {
    const org = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'bench org' });
    const ws = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
    const source = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/inbound-sources`, { provider: 'standard', name: 'bench' });
    const path = `/hooks/${source.json.id}`;
    const targets = [
      signedTarget('baseline', baseline.url + path, source.json.secret, baseline.proc.pid),
      signedTarget('gatehouse', gh.url + path, source.json.secret, gh.proc.pid),
    ];
    process.stderr.write(`${kind}: warm-up (${WARMUP} requests each)…\n`);
    for (const t of targets) {
      const w = await fetchLoop(t, { n: WARMUP, concurrency: CONCURRENCY });
      if (w.failed) throw new Error(`${kind} ${t.name}: ${w.failed} of ${WARMUP} warm-up requests failed, the first: ${w.firstFailure}`);
    }
    const before = db ? await db.count('select count(*) as n from inbound_events') : null;
    const results = await fetchPhase(`${kind}: receives`, targets, { n: REQUESTS, rounds: ROUNDS, concurrency: CONCURRENCY });
    const stored = db ? (await db.count('select count(*) as n from inbound_events')) - before : null;
    result = { kind, ...results, stored, ratio: round(results.gatehouse.perSecond / results.baseline.perSecond, 3) };
  } finally {
    await stopChild(gh.proc);
    await stopChild(baseline.proc);
    await db?.drop();
  }
  // After the stops: stopChild reads each peak just before stopping the process.
  return { ...result, memory: { gatehouse: gh.proc.memory, baseline: baseline.proc.memory } };
}

const COLUMNS = [
  ['receives/s', (r) => fmtInt(r.perSecond)],
  ['÷ INSERT route', (r) => `${r.ratio.toFixed(2)}×`],
  ['p50 ms', (r) => fmtMs(r.p50Ms)],
  ['p99 ms', (r) => fmtMs(r.p99Ms)],
  ['server CPU µs/receive', (r) => (r.serverCpuUsPer === null ? '–' : fmtInt(r.serverCpuUsPer))],
  ['client CPU µs/req', (r) => fmtInt(r.clientCpuUsPer)],
  ['failed', (r) => fmtInt(r.failed)],
];

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-inbound-'));
  try {
    const only = process.env.BENCH_ONLY; // postgres | pglite: one database only (while profiling)
    if (only && !LABEL[only]) throw new Error(`BENCH_ONLY must be postgres or pglite, got ${JSON.stringify(only)}`);
    const runs = {};
    if (only !== 'pglite') runs.postgres = await runOn('postgres', dataDir);
    if (only !== 'postgres') runs.pglite = await runOn('pglite', dataDir);
    const ran = Object.values(runs);
    const rows = ran.flatMap((r) => [
      { label: `${LABEL[r.kind]}: bare route, 1 INSERT`, r: { ...r.baseline, ratio: 1, othersCpu: null } },
      { label: `${LABEL[r.kind]}: gatehouse /hooks`, r: { ...r.gatehouse, ratio: r.ratio, othersCpu: null } },
    ]);
    const verdict = (x) => (x >= TARGET_RATIO ? 'PASS' : 'MISS');
    const out = [
      `Gatehouse inbound receiving vs a bare Fastify route doing one INSERT — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPUs; global fetch, ${CONCURRENCY} requests in flight; ${fmtInt(REQUESTS)} requests per target per database in ${ROUNDS} alternating rounds ` +
        `after ${WARMUP} each; every request a new signed Standard Webhooks message`,
      '',
      table(rows, COLUMNS, ''),
      '  (server CPU: the server process, all threads, from /proc over its rounds ÷ answers; on PostgreSQL the database server\'s own CPU is not in it)',
      ...ran.map((r) => `  (rounds, receives/s, ${LABEL[r.kind]}: INSERT route ${r.baseline.roundsPerSecond.map(fmtInt).join(' ')}; gatehouse ${r.gatehouse.roundsPerSecond.map(fmtInt).join(' ')})`),
      '',
      ...(runs.postgres ? [`PostgreSQL: ${fmtInt(runs.postgres.gatehouse.ok)} answered 200, ${fmtInt(runs.postgres.stored)} events stored (every 200 is a committed row)`, ''] : []),
      ...ran.flatMap((r) => [memoryLine(`gatehouse on ${LABEL[r.kind]}`, r.memory.gatehouse), memoryLine(`the bare INSERT route (${LABEL[r.kind]})`, r.memory.baseline)]),
      '',
      ...(runs.postgres ? [`PostgreSQL receives/s ÷ INSERT route   ${runs.postgres.ratio.toFixed(2)}×   target ≥ ${TARGET_RATIO}×   ${verdict(runs.postgres.ratio)}`] : []),
      ...(runs.pglite ? [`PGlite receives/s ÷ INSERT route       ${runs.pglite.ratio.toFixed(2)}×   target ≥ ${TARGET_RATIO}×   ${verdict(runs.pglite.ratio)}`] : []),
    ];
    process.stdout.write(`\n${out.join('\n')}\n`);
    const config = { requests: REQUESTS, rounds: ROUNDS, warmup: WARMUP, concurrency: CONCURRENCY, client: 'global fetch' };
    const ratios = Object.fromEntries(ran.map((r) => [r.kind, r.ratio]));
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: cpus().length, config, target: TARGET_RATIO, ratios, ...runs }, null, 2) + '\n');
    process.stdout.write(`\nresults: ${RESULTS_FILE.replace(`${here}/`, 'bench/')}\n`);
  } finally {
    await stopAllChildren();
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench:inbound could not run: ${err.stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});
