// Benchmark: POST /v1/keys/verify (the key-verification hot path) against a bare Fastify route,
// both measured in the same run, reported as ratios. GET /v1/workspaces/:id (Bearer auth + one
// database read) is measured alongside for information. See bench/README.md.
//
//   npm run bench:keys                       (builds first; 10 s per target per phase)
//   BENCH_DURATION=3 npm run bench:keys      (quicker, noisier)
//
// Each server runs in its own child process, so the load generator (this process) never shares an
// event loop with the server it measures. Exit status is 0 whether the targets are met or not;
// it is 1 only when the benchmark itself could not run (a server failed to start, setup failed).
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

const DURATION = envNumber('BENCH_DURATION', 10); // seconds per target in each phase
const WARMUP = envNumber('BENCH_WARMUP', 2); // seconds of warm-up per target
const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 50));
// Each phase is cut into ROUNDS slices that alternate between the targets (A B C, C B A, …), so a
// burst of other work on the machine lands on all of them alike instead of on whichever ran then.
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5));
const RATE_FRACTION = 0.25; // the fixed-rate runs go at this share of the baseline's max throughput
const TARGETS = { throughputRatio: 0.6, p99DeltaMs: 2 };
const RESULTS_FILE = join(here, 'results', 'keys-latest.json');
const KEY_PATTERN = /gate_live_[0-9A-Za-z]{49}/;

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set();

/** Spawns `node args…`, keeps the last few KB of its output for error messages. */
function startChild(name, args, env) {
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
function waitForOutput(proc, pattern, timeoutMs) {
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

/** SIGTERM, then SIGKILL if the process has not gone after `graceMs`. */
async function stopChild(proc, graceMs = 10_000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

// Last resort if this process dies with children still running.
process.on('exit', () => {
  for (const proc of children) proc.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`);
    await Promise.all([...children].map((p) => stopChild(p, 3000)));
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Cumulative CPU seconds (user + system) of a process, from /proc; null where there is no /proc. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
async function cpuSeconds(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat; null without it. */
async function machineCpuSeconds() {
  try {
    const [line] = (await readFile('/proc/stat', 'utf8')).split('\n');
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU use of the server, this process and the machine over one measured slice. */
async function cpuMeter(pid) {
  const [server0, machine0] = await Promise.all([cpuSeconds(pid), machineCpuSeconds()]);
  const client0 = process.cpuUsage();
  return async () => {
    const [server1, machine1] = await Promise.all([cpuSeconds(pid), machineCpuSeconds()]);
    const client = process.cpuUsage(client0);
    const serverS = server0 === null || server1 === null ? null : server1 - server0;
    const clientS = (client.user + client.system) / 1e6;
    const othersS = serverS === null || machine0 === null || machine1 === null ? null : Math.max(0, machine1 - machine0 - serverS - clientS);
    return { serverS, clientS, othersS };
  };
}

const indent = (text) => text.trim().split('\n').map((l) => `    ${l}`).join('\n');

// ---------------------------------------------------------------------------------------------
// Servers

async function startBaseline() {
  const proc = startChild('baseline server', [join(here, 'baseline-server.mjs')], { ...process.env, PORT: '0' });
  const [, port] = await waitForOutput(proc, /listening (\d+)/, 30_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function startGatehouse(dataDir) {
  const port = await freePort();
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'),
  );
  Object.assign(env, {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_LOG_LEVEL: 'warn',
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_HOST: '127.0.0.1',
  });
  const proc = startChild('gatehouse', [join(root, 'dist', 'cli.js'), 'serve'], env);
  const [bootstrapKey] = await waitForOutput(proc, KEY_PATTERN, 120_000);
  return { proc, url: `http://127.0.0.1:${port}`, bootstrapKey };
}

async function api(base, key, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return { status: res.status, text, json: JSON.parse(text) };
}

/** An organization, a workspace and a workspace key (scope workspaces:read), made through the API. */
async function setUpTenant(gh) {
  const org = await api(gh.url, gh.bootstrapKey, 'POST', '/v1/organizations', { name: 'bench org' });
  const ws = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
  const key = await api(gh.url, gh.bootstrapKey, 'POST', `/v1/workspaces/${ws.json.id}/api-keys`, {
    name: 'bench key',
    scopes: ['workspaces:read'],
  });
  return { workspaceId: ws.json.id, key: key.json.key };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** Raw response times in ms (autocannon's own histogram rounds to whole milliseconds). */
class Samples {
  constructor() {
    this.values = new Float64Array(1 << 16);
    this.length = 0;
  }
  push(v) {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = v;
  }
  append(other) {
    for (let i = 0; i < other.length; i++) this.push(other.values[i]);
  }
  percentiles(...ps) {
    const sorted = this.values.slice(0, this.length).sort();
    return ps.map((p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN));
  }
}

/**
 * One autocannon slice. Latency is every 2xx answer's raw time; the CPU figures cover the slice.
 * Returns raw figures: `summarize` merges the slices of a phase.
 */
async function runAutocannon(target, { duration, overallRate }) {
  const samples = new Samples();
  const stopMeter = await cpuMeter(target.pid);
  const t0 = performance.now();
  const instance = autocannon({
    url: target.url + target.path,
    method: target.method,
    headers: target.headers,
    body: target.body,
    expectBody: target.expectBody,
    connections: CONNECTIONS,
    duration,
    ...(overallRate ? { overallRate } : {}),
    timeout: 10,
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) samples.push(ms);
  });
  const result = await instance;
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = await stopMeter();
  return {
    samples,
    ok: result['2xx'] - result.mismatches,
    answered: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    elapsedS,
    ...cpu,
  };
}

/**
 * A minimal HTTP/1.1 keep-alive client over raw sockets for the paced runs: the request bytes are
 * built once, an answer is read by its content-length, one request in flight per socket. It costs
 * the client a few µs a request; node:http's client costs tens, too many to pace the baseline's rate
 * from one core. Chunked answers are not understood (counted as errors): none of the targets sends one.
 */
function createRawPool(target, size, onAnswer) {
  const { hostname, port } = new URL(target.url);
  const body = target.body === undefined ? '' : target.body;
  const head = [`${target.method} ${target.path} HTTP/1.1`, `host: ${hostname}:${port}`]
    .concat(Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}`))
    .concat(body ? [`content-length: ${Buffer.byteLength(body)}`] : [])
    .join('\r\n');
  const requestBytes = Buffer.from(`${head}\r\n\r\n${body}`);
  const expected = Buffer.from(target.expectBody ?? '');
  const queue = []; // send times of requests waiting for a free socket
  const idle = [];
  const sockets = [];
  let opened = 0;

  const open = () => {
    const socket = connect({ host: hostname, port: Number(port), noDelay: true });
    opened++;
    const conn = { socket, sentAt: 0, buf: null, busy: false };
    sockets.push(conn);
    socket.on('connect', () => release(conn));
    socket.on('data', (chunk) => {
      conn.buf = conn.buf ? Buffer.concat([conn.buf, chunk]) : chunk;
      const end = conn.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = conn.buf.toString('latin1', 0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
      if (!length) return fail(conn, 'errors');
      const total = end + 4 + Number(length[1]);
      if (conn.buf.length < total) return;
      const status = Number(headers.slice(9, 12));
      const answerBody = conn.buf.subarray(end + 4, total);
      conn.buf = conn.buf.length > total ? conn.buf.subarray(total) : null;
      const ms = performance.now() - conn.sentAt;
      conn.busy = false;
      onAnswer(status < 200 || status >= 300 ? 'non2xx' : answerBody.equals(expected) ? 'ok' : 'mismatches', ms);
      release(conn);
    });
    socket.on('error', () => fail(conn, 'errors'));
    socket.on('close', () => {
      if (conn.busy) fail(conn, 'errors');
      const i = idle.indexOf(conn);
      if (i >= 0) idle.splice(i, 1);
      sockets.splice(sockets.indexOf(conn), 1);
      opened--;
    });
  };
  const fail = (conn, kind) => {
    if (conn.busy) {
      conn.busy = false;
      onAnswer(kind, performance.now() - conn.sentAt);
    }
    conn.socket.destroy();
  };
  const write = (conn, sentAt) => {
    conn.busy = true;
    conn.sentAt = sentAt;
    conn.socket.write(requestBytes);
  };
  const release = (conn) => {
    if (conn.socket.destroyed) return;
    if (queue.length) write(conn, queue.shift());
    else idle.push(conn);
  };
  return {
    /** Sends now, or as soon as a socket is free; the latency counts from now either way. */
    send() {
      const now = performance.now();
      const conn = idle.pop();
      if (conn) return write(conn, now);
      queue.push(now);
      if (opened < size) open();
    },
    close() {
      for (const c of sockets) c.socket.destroy();
    },
  };
}

/**
 * A fixed rate that really is fixed: requests leave evenly spaced (a batch every millisecond at
 * most), whatever the answers are doing (open loop), over up to CONNECTIONS keep-alive sockets.
 * autocannon's `overallRate` is not this: each connection sends its per-second quota back to back
 * at the top of every second, then idles, so its "fixed rate" latency is the latency of a burst at
 * full concurrency. Latency here runs from the moment a request is due to be sent (so waiting for
 * a free socket counts) to the last byte of its answer.
 */
async function runPaced(target, { duration, rate }) {
  const total = Math.max(1, Math.round(rate * duration));
  const samples = new Samples();
  const counts = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, mismatches: 0 };
  let settled = 0;
  let resolveAll;
  const allSettled = new Promise((resolve) => (resolveAll = resolve));
  const pool = createRawPool(target, CONNECTIONS, (kind, ms) => {
    counts[kind]++;
    if (kind === 'ok') samples.push(ms);
    if (++settled === total) resolveAll();
  });
  const stopMeter = await cpuMeter(target.pid);
  const start = performance.now();
  let sent = 0;
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) {
      sent++;
      pool.send();
    }
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
  const timedOut = await Promise.race([allSettled.then(() => false), sleep((duration + 30) * 1000).then(() => true)]);
  if (timedOut) counts.timeouts += total - settled;
  const elapsedS = (performance.now() - start) / 1000;
  const cpu = await stopMeter();
  pool.close();
  return { samples, answered: counts.ok + counts.non2xx + counts.mismatches, ...counts, elapsedS, ...cpu };
}

/** One phase's slices of one target, merged. */
function summarize(slices) {
  const sum = (f) => slices.reduce((a, s) => a + f(s), 0);
  const sumOrNull = (f) => (slices.some((s) => f(s) === null) ? null : sum(f));
  const samples = new Samples();
  for (const s of slices) samples.append(s.samples);
  const elapsedS = sum((s) => s.elapsedS);
  const serverS = sumOrNull((s) => s.serverS);
  const othersS = sumOrNull((s) => s.othersS);
  const answered = sum((s) => s.answered);
  const [p50, p99, p999, p100] = samples.percentiles(50, 99, 99.9, 100);
  return {
    requestsPerSecond: Math.round(sum((s) => s.ok) / elapsedS),
    roundsRequestsPerSecond: slices.map((s) => Math.round(s.ok / s.elapsedS)),
    requests: sum((s) => s.ok),
    p50Ms: round(p50, 3),
    p99Ms: round(p99, 3),
    p999Ms: round(p999, 3),
    maxMs: round(p100, 3),
    non2xx: sum((s) => s.non2xx),
    errors: sum((s) => s.errors),
    timeouts: sum((s) => s.timeouts),
    mismatches: sum((s) => s.mismatches),
    serverCpu: serverS === null ? null : round(serverS / elapsedS, 2),
    serverCpuUsPerRequest: serverS === null || !answered ? null : round((serverS / answered) * 1e6, 1),
    clientCpu: round(sum((s) => s.clientS) / elapsedS, 2),
    /** Other processes' CPU, as a share of the whole machine, while this target was measured. */
    othersCpu: othersS === null ? null : round(othersS / elapsedS / availableParallelism(), 2),
    durationS: round(elapsedS, 2),
  };
}

/**
 * Runs `run(target, sliceSeconds)` for every target, ROUNDS times, alternating the order each round;
 * returns each target's merged figures.
 */
async function phase(label, targets, run) {
  const slice = DURATION / ROUNDS;
  const slices = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      if (process.stderr.isTTY) process.stderr.write(`\r${label}: round ${r + 1}/${ROUNDS}, ${t.name}      `);
      slices[t.name].push(await run(t, slice));
    }
  }
  process.stderr.write(process.stderr.isTTY ? '\n' : `${label}: ${ROUNDS} rounds done\n`);
  return Object.fromEntries(targets.map((t) => [t.name, summarize(slices[t.name])]));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n) => (n === null || n === undefined ? '–' : n.toFixed(2));
const fmtPct = (n) => (n === null || n === undefined ? '–' : `${Math.round(n * 100)}%`);
const failures = (r) => r.non2xx + r.errors + r.timeouts + r.mismatches;

function table(rows) {
  const header = ['', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'server CPU', 'CPU µs/req', 'client CPU', 'failed'];
  const measured = rows.filter(({ r }) => r !== undefined);
  const body = measured.map(({ label, r }) => [
    label,
    fmtInt(r.requestsPerSecond),
    fmtMs(r.p50Ms),
    fmtMs(r.p99Ms),
    fmtMs(r.p999Ms),
    fmtPct(r.serverCpu),
    r.serverCpuUsPerRequest === null ? '–' : r.serverCpuUsPerRequest.toFixed(0),
    fmtPct(r.clientCpu),
    String(failures(r)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...(i === 0 ? rows.map(({ label }) => label.length) : []), ...body.map((row) => row[i].length)));
  const line = (cells) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const skipped = rows.filter(({ r }) => r === undefined).map(({ label }) => `  ${label.padEnd(widths[0])}  not run: its max throughput is below this rate`);
  const others = measured.map(({ r }) => r.othersCpu).filter((v) => v !== null);
  const note = others.length ? [`  other processes on the machine meanwhile: ${fmtPct(Math.max(...others))} of its CPU at most (per target)`] : [];
  return [line(header), ...body.map(line), ...skipped, ...note].join('\n');
}

const ratioRange = (a, b) => {
  const ratios = a.roundsRequestsPerSecond.map((x, i) => x / b.roundsRequestsPerSecond[i]);
  return { min: round(Math.min(...ratios), 2), max: round(Math.max(...ratios), 2) };
};

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const startedAt = new Date();
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  let gatehouse;
  let baseline;
  try {
    process.stderr.write('starting the baseline and Gatehouse servers…\n');
    [baseline, gatehouse] = await Promise.all([startBaseline(), startGatehouse(dataDir)]);
    const tenant = await setUpTenant(gatehouse);

    const verifyBody = JSON.stringify({ key: tenant.key });
    const json = { 'content-type': 'application/json' };
    // One request each before measuring: the answer must be the success the run is meant to time,
    // and every measured answer is compared with it (a difference counts as failed).
    const first = async (url, init) => {
      const res = await fetch(url, init);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${init.method} ${url} → ${res.status}: ${text}`);
      return text;
    };
    const targets = {
      baseline: { name: 'baseline', label: 'baseline  POST /baseline', url: baseline.url, path: '/baseline', method: 'POST', headers: json, body: verifyBody, pid: baseline.proc.pid },
      verify: { name: 'verify', label: 'verify    POST /v1/keys/verify', url: gatehouse.url, path: '/v1/keys/verify', method: 'POST', headers: json, body: verifyBody, pid: gatehouse.proc.pid },
      get: {
        name: 'get', label: 'info      GET /v1/workspaces/:id', url: gatehouse.url, path: `/v1/workspaces/${tenant.workspaceId}`, method: 'GET',
        headers: { authorization: `Bearer ${tenant.key}` }, pid: gatehouse.proc.pid,
      },
    };
    for (const t of Object.values(targets)) {
      t.expectBody = await first(t.url + t.path, { method: t.method, headers: t.headers, body: t.body });
    }
    if (!JSON.parse(targets.verify.expectBody).valid) throw new Error(`the bench key does not verify: ${targets.verify.expectBody}`);

    const order = [targets.baseline, targets.verify, targets.get];
    const compared = [targets.baseline, targets.verify];
    process.stderr.write(`warming up (${WARMUP} s each)…\n`);
    for (const t of order) await runAutocannon(t, { duration: WARMUP });

    // The informational GET runs after the compared pair, not between its slices: its database
    // reads leave garbage and JIT state in the Gatehouse process that would be charged to verify.
    const max = await phase('max throughput', compared, (t, duration) => runAutocannon(t, { duration }));
    const rate = Math.max(CONNECTIONS, Math.round(max.baseline.requestsPerSecond * RATE_FRACTION));
    const paced = await phase(`fixed rate ${rate} req/s, paced`, compared, (t, duration) => runPaced(t, { duration, rate }));
    const fixed = await phase(`fixed rate ${rate} req/s, autocannon overallRate`, compared, (t, duration) =>
      runAutocannon(t, { duration, overallRate: rate }),
    );
    Object.assign(max, await phase('max throughput (info)', [targets.get], (t, duration) => runAutocannon(t, { duration })));
    // It joins the fixed-rate runs only if it can sustain the rate: past its max, an open-loop queue
    // only grows and the run would time that queue.
    if (max.get.requestsPerSecond >= rate * 1.1) {
      Object.assign(paced, await phase(`fixed rate ${rate} req/s, paced (info)`, [targets.get], (t, duration) => runPaced(t, { duration, rate })));
      Object.assign(fixed, await phase(`fixed rate ${rate} req/s, autocannon overallRate (info)`, [targets.get], (t, duration) =>
        runAutocannon(t, { duration, overallRate: rate }),
      ));
    }

    const throughputRatio = round(max.verify.requestsPerSecond / max.baseline.requestsPerSecond, 3);
    const throughputRounds = ratioRange(max.verify, max.baseline);
    const p99DeltaMs = round(paced.verify.p99Ms - paced.baseline.p99Ms, 3);
    const p99DeltaAutocannonMs = round(fixed.verify.p99Ms - fixed.baseline.p99Ms, 3);
    const getRatio = round(max.get.requestsPerSecond / max.baseline.requestsPerSecond, 3);
    const cpuRatio = max.baseline.serverCpuUsPerRequest && max.verify.serverCpuUsPerRequest
      ? round(max.baseline.serverCpuUsPerRequest / max.verify.serverCpuUsPerRequest, 3)
      : null;
    const pass = { throughput: throughputRatio >= TARGETS.throughputRatio, p99: p99DeltaMs <= TARGETS.p99DeltaMs };

    const cpuList = cpus();
    const out = [];
    out.push('');
    out.push(`Gatehouse key verification vs bare Fastify — ${startedAt.toISOString()}`);
    out.push(`node ${process.version}, ${availableParallelism()} CPUs (${cpuList[0]?.model.trim() ?? 'unknown'}), PGlite; ` +
      `${DURATION} s per target per phase in ${ROUNDS} alternating rounds, ${WARMUP} s warm-up, ${CONNECTIONS} connections`);
    out.push('');
    out.push(`max throughput (autocannon, ${CONNECTIONS} connections)`);
    out.push(table(order.map((t) => ({ label: t.label, r: max[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s (${RATE_FRACTION * 100}% of the baseline's max), paced: evenly spaced, open loop`);
    out.push(table(order.map((t) => ({ label: t.label, r: paced[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s, autocannon overallRate (bursty: each connection sends its per-second quota back to back)`);
    out.push(table(order.map((t) => ({ label: t.label, r: fixed[t.name] }))));
    out.push('');
    out.push(`verify / baseline throughput             ${throughputRatio.toFixed(2)}      target ≥ ${TARGETS.throughputRatio}    ${pass.throughput ? 'PASS' : 'MISS'}` +
      `   (rounds ${throughputRounds.min}–${throughputRounds.max})`);
    out.push(`p99 verify − p99 baseline, paced rate    ${p99DeltaMs.toFixed(2)} ms   target ≤ ${TARGETS.p99DeltaMs} ms   ${pass.p99 ? 'PASS' : 'MISS'}`);
    out.push(`(info) same at autocannon overallRate    ${p99DeltaAutocannonMs.toFixed(2)} ms`);
    out.push(`(info) server CPU per request, baseline / verify    ${cpuRatio === null ? '–' : cpuRatio.toFixed(2)}`);
    out.push(`(info) GET /v1/workspaces/:id / baseline throughput  ${getRatio.toFixed(2)}`);

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
    out.push(`\nresults: ${RESULTS_FILE.slice(root.length + 1)}`);
    process.stdout.write(out.join('\n') + '\n');

    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(
      RESULTS_FILE,
      JSON.stringify(
        {
          benchmark: 'keys',
          startedAt: startedAt.toISOString(),
          node: process.version,
          cpus: availableParallelism(),
          cpuModel: cpuList[0]?.model.trim() ?? null,
          config: { durationS: DURATION, rounds: ROUNDS, warmupS: WARMUP, connections: CONNECTIONS, fixedRate: rate, rateFraction: RATE_FRACTION, database: 'pglite' },
          targets: TARGETS,
          ratios: {
            verifyToBaselineThroughput: throughputRatio,
            verifyToBaselineThroughputRounds: throughputRounds,
            p99DeltaMsAtFixedRate: p99DeltaMs,
            p99DeltaMsAtAutocannonOverallRate: p99DeltaAutocannonMs,
            baselineToVerifyCpuPerRequest: cpuRatio,
            getToBaselineThroughput: getRatio,
          },
          pass,
          maxOtherProcessesCpu: busiest,
          max,
          fixedPaced: paced,
          fixedAutocannonOverallRate: fixed,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await Promise.all([baseline, gatehouse].filter(Boolean).map((s) => stopChild(s.proc)));
    // Anything started but not yet returned (a failed start) is still in `children`.
    await Promise.all([...children].map((p) => stopChild(p, 3000)));
    await rm(dataDir, { recursive: true, force: true });
  }
}

const prefixed = (prefix, runs) => Object.fromEntries(Object.entries(runs).map(([k, v]) => [`${prefix} ${k}`, v]));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:keys could not run: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
