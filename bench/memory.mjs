// Benchmark: Gatehouse's memory. `node dist/cli.js serve` on the embedded default (a fresh PGlite
// data folder) and on PostgreSQL (a fresh database), each: RSS after BENCH_MEMORY_IDLE_S (10) s
// idle after start-up, then a load of accepts and deliveries (BENCH_MEMORY_EVENTS events to one
// endpoint, global fetch 16 at a time, until every signed POST has arrived and every attempt is
// logged), RSS after it, and the peak (VmHWM) just before the process is stopped. A process that
// only does `PGlite.create()` is measured the same way, for scale. See bench/README.md.
//
//   npm run bench:memory
//   BENCH_MEMORY_IDLE_S=3 BENCH_MEMORY_EVENTS=500 npm run bench:memory     (quicker)
//   BENCH_ONLY=postgres npm run bench:memory                               (one mode only)
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { endToEnd, setUpWorkspace } from './webhook-e2e.mjs';
import {
  createPgDatabase, envNumber, fmtInt, fmtMiB, freePort, gatehouseEnv, here, memoryOf, round, startChild, startGatehouse, startListener, stopAllChildren, stopChild, table,
  trackMemory, waitForOutput,
} from './lib.mjs';

const IDLE_S = envNumber('BENCH_MEMORY_IDLE_S', 10);
const EVENTS = Math.round(envNumber('BENCH_MEMORY_EVENTS', 2000));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// Issue 19: PostgreSQL mode stays at or under 250 MB under load (MB = 10^6 bytes; /proc counts KiB).
const TARGET_POSTGRES_PEAK_MB = 250;
const MIB_PER_MB = 1e6 / 1048576;
const RESULTS_FILE = join(here, 'results', 'memory-latest.json');
const LABEL = { pglite: 'gatehouse serve, embedded PGlite', postgres: 'gatehouse serve, PostgreSQL' };

async function gatehouse(kind, receiver, dataDir) {
  const db = kind === 'postgres' ? await createPgDatabase(PG_ADMIN_URL) : null;
  const env = gatehouseEnv(join(dataDir, kind), await freePort(), { GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true', ...(db ? { DATABASE_URL: db.url } : {}) });
  process.stderr.write(`${kind}: starting, then ${IDLE_S} s idle…\n`);
  const t0 = performance.now();
  const gh = await startGatehouse(env, undefined, { name: LABEL[kind], settleMs: IDLE_S * 1000 });
  const startS = (performance.now() - t0) / 1000 - IDLE_S;
  try {
    const tenant = await setUpWorkspace(gh, 'memory', [{ url: `${receiver.url}/memory`, events: ['lead.created'], max_in_flight: 16 }]);
    process.stderr.write(`${kind}: load, ${EVENTS} events accepted and delivered…\n`);
    const load = await endToEnd(gh, tenant, receiver, EVENTS);
    const after = await memoryOf(gh.proc.pid);
    await stopChild(gh.proc);
    return {
      kind, startSeconds: round(startS, 1), idleRssMiB: gh.proc.memory.idleRssMiB, afterLoadRssMiB: after?.rssMiB ?? null, peakRssMiB: gh.proc.memory.peakRssMiB,
      load: { events: EVENTS, deliveriesPerSecond: load.perSecond, acceptsPerSecond: load.acceptsPerSecond, seconds: load.seconds },
    };
  } finally {
    await stopChild(gh.proc);
    await db?.drop();
  }
}

async function barePglite() {
  process.stderr.write(`bare PGlite.create(): ${IDLE_S} s idle…\n`);
  const proc = startChild('bare PGlite.create()', [join(here, 'pglite-bare.mjs')], process.env);
  await waitForOutput(proc, /ready/, 120_000);
  await trackMemory(proc, IDLE_S * 1000);
  const after = await memoryOf(proc.pid);
  await stopChild(proc);
  return { kind: 'bare-pglite', idleRssMiB: proc.memory.idleRssMiB, afterLoadRssMiB: after?.rssMiB ?? null, peakRssMiB: proc.memory.peakRssMiB, load: null };
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-memory-'));
  const receiver = await startListener('receiver', join(here, 'webhook-receiver.mjs'));
  try {
    const only = process.env.BENCH_ONLY;
    if (only && !LABEL[only]) throw new Error(`BENCH_ONLY must be postgres or pglite, got ${JSON.stringify(only)}`);
    const runs = [];
    if (only !== 'postgres') runs.push(await gatehouse('pglite', receiver, dataDir));
    if (only !== 'pglite') runs.push(await gatehouse('postgres', receiver, dataDir));
    runs.push(await barePglite());
    const label = (r) => (r.kind === 'bare-pglite' ? 'bare PGlite.create() (in memory), for scale' : LABEL[r.kind]);
    const pgRun = runs.find((r) => r.kind === 'postgres');
    const pgPeakMB = pgRun?.peakRssMiB == null ? null : pgRun.peakRssMiB / MIB_PER_MB;
    const out = [
      `Gatehouse memory — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPUs; idle = RSS ${IDLE_S} s after start-up; load = ${fmtInt(EVENTS)} events to one endpoint, global fetch 16 at a time, until all delivered and logged; ` +
        'peak = VmHWM read just before the process was stopped (MiB, from /proc)',
      '',
      table(runs.map((r) => ({ label: label(r), r: { ...r, othersCpu: null } })), [
        ['idle RSS', (r) => fmtMiB(r.idleRssMiB)],
        ['RSS after load', (r) => (r.load ? fmtMiB(r.afterLoadRssMiB) : '–')],
        ['peak RSS', (r) => fmtMiB(r.peakRssMiB)],
        ['start s', (r) => (r.startSeconds === undefined ? '–' : r.startSeconds.toFixed(1))],
        ['load deliveries/s', (r) => (r.load ? fmtInt(r.load.deliveriesPerSecond) : '–')],
      ], ''),
      '  (PostgreSQL mode: the PostgreSQL server\'s own memory is not in these figures; embedded mode holds its database in the Gatehouse process)',
      '',
      pgPeakMB === null ? null : `PostgreSQL mode peak RSS under load   ${Math.round(pgPeakMB)} MB   target ≤ ${TARGET_POSTGRES_PEAK_MB} MB   ${pgPeakMB <= TARGET_POSTGRES_PEAK_MB ? 'PASS' : 'MISS'}`,
    ].filter((l) => l !== null);
    process.stdout.write(`\n${out.join('\n')}\n`);
    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, JSON.stringify({
      at: new Date().toISOString(), node: process.version, cpus: cpus().length, config: { idleS: IDLE_S, events: EVENTS },
      target: { postgresPeakMB: TARGET_POSTGRES_PEAK_MB }, postgresPeakMB: pgPeakMB === null ? null : round(pgPeakMB, 1), runs,
    }, null, 2) + '\n');
    process.stdout.write(`\nresults: ${RESULTS_FILE.replace(`${here}/`, 'bench/')}\n`);
  } finally {
    await stopChild(receiver.proc);
    await stopAllChildren();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench:memory could not run: ${err.stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});
