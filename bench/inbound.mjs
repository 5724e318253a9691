// Benchmark: receiving inbound webhooks. Signed Standard Webhooks requests to a Gatehouse source
// (verified, de-duplicated, committed, 200 after the commit) against a bare Fastify route doing one
// INSERT into the same kind of database, in the same run, alternating rounds; on PostgreSQL and on
// the embedded PGlite. See bench/README.md.
//
//   npm run bench:inbound
//   BENCH_DURATION=4 npm run bench:inbound      (quicker, noisier)
//   BENCH_CPU_PROF=1 BENCH_ONLY=pglite npm run bench:inbound   (profiles Gatehouse on one database)
//
// Gatehouse runs as `gatehouse serve` (API and workers in one process, the default), so the
// processing of what it receives competes for the same CPU, as it would in production.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  api, createPgDatabase, createRunner, envNumber, failures, fmtInt, fmtMs, fmtPct, freePort, gatehouseEnv, here, round, startGatehouse, startListener,
  stopAllChildren, stopChild, table,
} from './lib.mjs';

const DURATION = envNumber('BENCH_DURATION', 10);
const WARMUP = envNumber('BENCH_WARMUP', 2);
const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 32));
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGET_RATIO = 0.7;
const RESULTS_FILE = join(here, 'results', 'inbound-latest.json');

const { runAutocannon, phase } = createRunner({ connections: CONNECTIONS, duration: DURATION, rounds: ROUNDS, percentiles: [50, 99], cpuNames: ['server'] });

let sequence = 0;
/** autocannon request hooks: every request a new message id, a current timestamp and its signature. */
function signedRequests(secret) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const run = randomBytes(4).toString('hex');
  return [{
    method: 'POST',
    setupRequest(req) {
      const id = `msg_${run}_${++sequence}`;
      const ts = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({ type: 'lead.replied', timestamp: new Date().toISOString(), data: { lead_id: sequence, email: 'someone@example.com', reply: 'Sounds good, send me the details.' } });
      const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
      return { ...req, body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signature}` } };
    },
  }];
}

async function runOn(kind, dataDir) {
  const db = kind === 'postgres' ? await createPgDatabase(PG_ADMIN_URL) : null;
  const extra = db ? { DATABASE_URL: db.url } : {};
  const profileDir = process.env.BENCH_CPU_PROF ? join(dataDir, `profile-${kind}`) : undefined;
  const gh = await startGatehouse(gatehouseEnv(join(dataDir, kind), await freePort(), extra), profileDir);
  if (profileDir) process.stderr.write(`${kind}: CPU profile in ${profileDir}\n`);
  const baseline = await startListener(`baseline (${kind})`, join(here, 'inbound-baseline.mjs'), db ? { DATABASE_URL: db.url } : { BENCH_DATA_DIR: join(dataDir, `${kind}-baseline`) });
  try {
    const org = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'bench org' });
    const ws = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
    const source = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/inbound-sources`, { provider: 'standard', name: 'bench' });
    const requests = signedRequests(source.json.secret);
    const targets = [
      { name: 'baseline', url: baseline.url, path: '/baseline/x', method: 'POST', requests, pids: [baseline.proc.pid], checkString: (b) => b.includes('"duplicate":false') },
      { name: 'gatehouse', url: gh.url, path: `/hooks/${source.json.id}`, method: 'POST', requests, pids: [gh.proc.pid], checkString: (b) => b.includes('"duplicate":false') },
    ];
    process.stderr.write(`${kind}: warm-up…\n`);
    for (const t of targets) await runAutocannon(t, { duration: WARMUP });
    const before = db ? await db.count('select count(*) as n from inbound_events') : null;
    const results = await phase(`${kind}: max throughput`, targets, (t, slice) => runAutocannon(t, { duration: slice }));
    const stored = db ? (await db.count('select count(*) as n from inbound_events')) - before : null;
    return { results, stored };
  } finally {
    await stopChild(gh.proc);
    await stopChild(baseline.proc);
    await db?.drop();
  }
}

const COLUMNS = [
  ['events/s', (r) => fmtInt(r.requestsPerSecond)],
  ['p50 ms', (r) => fmtMs(r.p50Ms)],
  ['p99 ms', (r) => fmtMs(r.p99Ms)],
  ['server CPU', (r) => fmtPct(r.serverCpu)],
  ['CPU µs/event', (r) => (r.serverCpuUsPerRequest === null ? '–' : r.serverCpuUsPerRequest.toFixed(0))],
  ['failed', (r) => fmtInt(failures(r))],
];

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-inbound-'));
  try {
    const only = process.env.BENCH_ONLY; // postgres | pglite: one database only (while profiling)
    const postgres = only === 'pglite' ? null : await runOn('postgres', dataDir);
    const pglite = only === 'postgres' ? null : await runOn('pglite', dataDir);
    if (!postgres || !pglite) {
      process.stdout.write(JSON.stringify((postgres ?? pglite).results, null, 1) + '\n');
      return;
    }
    const ratio = (r) => r.results.gatehouse.requestsPerSecond / r.results.baseline.requestsPerSecond;
    const verdict = (x) => (x >= TARGET_RATIO ? 'PASS' : 'MISS');
    const rows = (label, r) => [
      { label: `${label}: bare route, 1 INSERT`, r: r.results.baseline },
      { label: `${label}: gatehouse /hooks`, r: r.results.gatehouse },
    ];
    const out = [
      `Gatehouse inbound receiving vs a bare Fastify route doing one INSERT — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPUs; ${CONNECTIONS} connections; ${DURATION} s per target per database in ${ROUNDS} alternating rounds; every request a new signed Standard Webhooks message`,
      '',
      table([...rows('PostgreSQL', postgres), ...rows('PGlite', pglite)], COLUMNS, ''),
      '',
      `PostgreSQL: ${fmtInt(postgres.results.gatehouse.requests)} answered 200, ${fmtInt(postgres.stored)} events stored (every 200 is a committed row)`,
      '',
      `PostgreSQL events/s ÷ baseline   ${ratio(postgres).toFixed(2)}   target ≥ ${TARGET_RATIO}   ${verdict(ratio(postgres))}`,
      `PGlite events/s ÷ baseline       ${ratio(pglite).toFixed(2)}   target ≥ ${TARGET_RATIO}   ${verdict(ratio(pglite))}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({ at: new Date().toISOString(), postgres, pglite, ratios: { postgres: round(ratio(postgres), 3), pglite: round(ratio(pglite), 3) }, target: TARGET_RATIO }, null, 2));
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
