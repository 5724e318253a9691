// Shared pieces of the benchmarks: child processes, CPU metering, the memory of a server (idle
// after start-up, peak before it is stopped), and the report helpers; the load generators are in
// bench/load.mjs and re-exported here. See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import pg from 'pg';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { createRawPool, createRunner, fetchLoop, fetchPhase, Samples, summarizeFetch } from './load.mjs';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..');
export const KEY_PATTERN = /gate_live_[0-9A-Za-z]{49}/;
/** The machine's CPUs, read before pinCpus narrows this process's affinity (which availableParallelism follows). */
export const CPU_COUNT = availableParallelism();

export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Child processes

export const children = new Set();

/** Spawns `node args…`, keeps the last few KB of its output for error messages. */
export function startChild(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, pid: child.pid, output: '', exited: null };
  const keep = (chunk) => {
    proc.output = (proc.output + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  children.add(proc);
  proc.exited.then(() => children.delete(proc));
  return proc;
}

/** Resolves with the first match of `pattern` in the child's output; rejects if it exits or times out. */
export function waitForOutput(proc, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(proc.output);
      if (match) {
        done();
        resolve(match);
      }
    };
    const onExit = ({ code, signal }) => {
      done();
      reject(new Error(`${proc.name} exited (code ${code}, signal ${signal}) before it was ready:\n${indent(proc.output)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${proc.name} not ready after ${timeoutMs / 1000} s:\n${indent(proc.output)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      proc.child.stdout.off('data', check);
      proc.child.stderr.off('data', check);
    };
    proc.child.stdout.on('data', check);
    proc.child.stderr.on('data', check);
    proc.exited.then(onExit);
    check();
  });
}

/**
 * SIGTERM, then SIGKILL if the process has not gone after `graceMs`. A process whose memory is
 * tracked (see trackMemory) has its peak read first and printed on stdout: every benchmark that
 * stops its servers this way reports their memory without code of its own.
 */
export async function stopChild(proc, graceMs = 10_000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  if (proc.memory) await notePeakMemory(proc);
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Stops every child still running (e.g. one whose start failed before it was returned). */
export const stopAllChildren = (graceMs = 3000) => Promise.all([...children].map((p) => stopChild(p, graceMs)));

// Last resort if this process dies with children still running.
process.on('exit', () => {
  for (const proc of children) proc.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`);
    await stopAllChildren(3000);
    process.exit(130);
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Puts the load generator (this process) on the first CPU and each server on the last, all of their
 * threads, with `taskset`. On a shared virtual machine one virtual CPU can run far slower than the
 * other for seconds at a time; pinned, the servers being compared always run on the same one, and
 * never queue behind the load generator. Returns a line saying what was done (or why not).
 */
export function pinCpus(serverPids) {
  const n = CPU_COUNT;
  if (process.env.BENCH_PIN === '0') return 'CPU pinning off (BENCH_PIN=0)';
  if (n < 2) return 'CPU pinning skipped: one CPU';
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    for (const pid of serverPids) execFileSync('taskset', ['-a', '-p', '-c', String(n - 1), String(pid)], { stdio: 'ignore' });
    return `load generator pinned to CPU 0, servers to CPU ${n - 1} (BENCH_PIN=0 to leave them to the scheduler)`;
  } catch (err) {
    return `CPU pinning skipped: taskset failed (${err.message.split('\n')[0]})`;
  }
}

/** A new database on the PostgreSQL at `adminUrl`: its url, a one-value query (`count`), and `drop`. */
export async function createPgDatabase(adminUrl) {
  const name = `gatehouse_bench_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async count(sql) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return Number((await c.query(sql)).rows[0].n);
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Starts `node script` with PORT=0 and waits for it to print `listening <port>`. */
export async function startListener(name, script, env) {
  const proc = startChild(name, [script], { ...process.env, PORT: '0', ...env });
  const [, port] = await waitForOutput(proc, /listening (\d+)/, 30_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** Gatehouse's environment: nothing inherited from the caller's GATEHOUSE_*, DATABASE_URL or REDIS_URL; then `extra`. */
export function gatehouseEnv(dataDir, port, extra = {}) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'),
  );
  Object.assign(env, {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_LOG_LEVEL: 'warn',
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_HOST: '127.0.0.1',
    ...extra,
  });
  return env;
}

/** `node dist/cli.js serve` with `env` (optionally under --cpu-prof); waits for the bootstrap key it prints. */
export async function startGatehouse(env, profileDir, { name = 'gatehouse', settleMs } = {}) {
  const args = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(root, 'dist', 'cli.js'), 'serve'];
  const proc = startChild(name, args, env);
  const [bootstrapKey] = await waitForOutput(proc, KEY_PATTERN, 120_000);
  await trackMemory(proc, settleMs);
  return { proc, url: `http://127.0.0.1:${env.GATEHOUSE_PORT}`, bootstrapKey };
}

export async function api(base, key, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

// ---------------------------------------------------------------------------------------------
// CPU

/** Cumulative CPU seconds (user + system) of a process, from /proc; null where there is no /proc. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
export async function cpuSeconds(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat; null without it. */
export async function machineCpuSeconds() {
  try {
    const [line] = (await readFile('/proc/stat', 'utf8')).split('\n');
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * CPU use over one measured slice: of each process in `pids` (`processS`, in the same order, null
 * where unknown), of this process (`clientS`), and of everything else on the machine (`othersS`).
 */
export async function cpuMeter(pids) {
  const read = () => Promise.all([Promise.all(pids.map(cpuSeconds)), machineCpuSeconds()]);
  const [procs0, machine0] = await read();
  const client0 = process.cpuUsage();
  return async () => {
    const [procs1, machine1] = await read();
    const client = process.cpuUsage(client0);
    const processS = pids.map((_, i) => (procs0[i] === null || procs1[i] === null ? null : procs1[i] - procs0[i]));
    const clientS = (client.user + client.system) / 1e6;
    const othersS =
      processS.some((s) => s === null) || machine0 === null || machine1 === null
        ? null
        : Math.max(0, machine1 - machine0 - processS.reduce((a, s) => a + s, 0) - clientS);
    return { processS, clientS, othersS };
  };
}

// ---------------------------------------------------------------------------------------------
// Memory

/** VmRSS (resident now) and VmHWM (the most it was ever resident) of a process in MiB, from /proc; null without it. */
export async function memoryOf(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: round(kb('VmRSS') / 1024, 1), peakMiB: round(kb('VmHWM') / 1024, 1) };
  } catch {
    return null;
  }
}

/** Milliseconds a server is left alone after start-up before its idle RSS is read (BENCH_SETTLE_MS, default 1,000). */
const SETTLE_MS = envNumber('BENCH_SETTLE_MS', 1000);

/**
 * Starts keeping a server's memory: its RSS once start-up has settled (`settleMs`), now; its peak
 * (VmHWM) later, read by stopChild just before the process is stopped. Returns `proc.memory`:
 * `{ idleRssMiB, peakRssMiB }` (the peak null until then, both null without /proc).
 */
export async function trackMemory(proc, settleMs = SETTLE_MS) {
  await sleep(settleMs);
  const m = await memoryOf(proc.pid);
  proc.memory = { idleRssMiB: m?.rssMiB ?? null, peakRssMiB: null };
  return proc.memory;
}

/** Reads a tracked process's peak RSS into `proc.memory` and prints it with its idle RSS. */
export async function notePeakMemory(proc) {
  const m = await memoryOf(proc.pid);
  if (m) proc.memory.peakRssMiB = m.peakMiB;
  process.stdout.write(`${memoryLine(proc.name, proc.memory)}\n`);
  return proc.memory;
}

export const memoryLine = (name, m) =>
  `memory of ${name}: RSS ${fmtMiB(m?.idleRssMiB)} idle after start-up, peak ${fmtMiB(m?.peakRssMiB)} (VmHWM, read just before it was stopped)`;
export const fmtMiB = (n) => (n === null || n === undefined ? '–' : `${n.toFixed(0)} MiB`);

export const indent = (text) => text.trim().split('\n').map((l) => `    ${l}`).join('\n');

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profiles on Linux, so a profile can be cut to the measured slices. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

// ---------------------------------------------------------------------------------------------
// Report

export const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
export const fmtMs = (n) => (n === null || n === undefined ? '–' : n.toFixed(2));
export const fmtPct = (n) => (n === null || n === undefined ? '–' : `${Math.round(n * 100)}%`);
export const failures = (r) => r.non2xx + r.errors + r.timeouts + r.mismatches;

/**
 * A text table: one line per `{ label, r }` row, `columns` as `[header, (r) => cell]`; a row whose
 * `r` is undefined is listed as `<label>  <skippedNote>`.
 */
export function table(rows, columns, skippedNote) {
  const header = ['', ...columns.map(([h]) => h)];
  const measured = rows.filter(({ r }) => r !== undefined);
  const body = measured.map(({ label, r }) => [label, ...columns.map(([, cell]) => cell(r))]);
  const widths = header.map((h, i) => Math.max(h.length, ...(i === 0 ? rows.map(({ label }) => label.length) : []), ...body.map((row) => row[i].length)));
  const line = (cells) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const skipped = rows.filter(({ r }) => r === undefined).map(({ label }) => `  ${label.padEnd(widths[0])}  ${skippedNote}`);
  const others = measured.map(({ r }) => r.othersCpu).filter((v) => v !== null);
  const note = others.length ? [`  other processes on the machine meanwhile: ${fmtPct(Math.max(...others))} of its CPU at most (per target)`] : [];
  return [line(header), ...body.map(line), ...skipped, ...note].join('\n');
}

export const ratioRange = (a, b) => {
  const ratios = a.roundsRequestsPerSecond.map((x, i) => x / b.roundsRequestsPerSecond[i]);
  return { min: round(Math.min(...ratios), 2), max: round(Math.max(...ratios), 2) };
};

/**
 * `a`'s p99 minus `b`'s, round by round (each round's two slices ran back to back), and the median
 * of those differences. A stall of the whole machine (seen here as a bare Fastify route's p99
 * jumping from 1 ms to 30 ms between one second and the next) lands in one slice and moves the p99
 * of the pooled answers by itself; paired by round, it moves one difference out of many.
 */
export const pairedP99Delta = (a, b) => {
  const diffs = a.roundsP99Ms.map((x, i) => round(x - b.roundsP99Ms[i], 3));
  const sorted = [...diffs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: round(median, 3), min: sorted[0], max: sorted[sorted.length - 1], diffs };
};

export const prefixed = (prefix, runs) => Object.fromEntries(Object.entries(runs).map(([k, v]) => [`${prefix} ${k}`, v]));

/**
 * The warnings both benchmarks print after their figures (failed requests, a paced run short of the
 * rate, a saturated load generator, a busy machine), appended to `out`; returns the busiest other
 * processes' share of the machine's CPU.
 */
export function pushWarnings(out, { max, paced, fixed, rate }) {
  const all = { ...prefixed('max', max), ...prefixed('paced', paced), ...prefixed('overallRate', fixed) };
  const failed = Object.entries(all)
    .filter(([, r]) => failures(r) > 0)
    .map(([k, r]) => `${k}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts, ${r.mismatches} unexpected bodies`);
  if (failed.length) out.push('', 'WARNING: some requests failed; their latencies are not in the figures:', ...failed.map((f) => `  ${f}`));
  const short = Object.entries(paced).filter(([, r]) => r.requestsPerSecond < rate * 0.95);
  if (short.length) out.push('', `WARNING: paced run(s) of ${short.map(([k]) => k).join(', ')} answered < 95% of the offered rate: the server could not keep up.`);
  const saturated = Object.entries(max).filter(([, r]) => r.clientCpu >= 0.95);
  if (saturated.length) {
    out.push('', `WARNING: the load generator used ≥95% of a core during the max-throughput run of ${saturated.map(([k]) => k).join(', ')}; ` +
      "that figure may be the client's limit, not the server's.");
  }
  const busiest = Math.max(0, ...Object.values(all).map((r) => r.othersCpu ?? 0));
  if (busiest > 0.1) {
    out.push('', `WARNING: other processes used up to ${fmtPct(busiest)} of the machine's CPU during the runs: the figures are noisy. ` +
      'Rerun on a quiet machine before drawing conclusions.');
  }
  return busiest;
}
