// Benchmark: the overhead Gatehouse adds to an upstream call. The same Email Bison request,
// `GET /api/users` with the workspace's token, is timed two ways in the same run:
//   baseline   the load generator calls the fake provider directly, token in hand;
//   gatehouse  POST /v1/workspaces/:id/upstream/emailbison {method: 'GET', path: '/users'} with a
//              workspace key: key verification, workspace check, credential resolve (decrypted
//              copy cached for GATEHOUSE_CREDENTIAL_CACHE_MS), the call through undici, one row in
//              the call log and the health counters, then Gatehouse's own answer.
// The headline is the p50 difference at a fixed rate both sustain (target ≤ +2 ms); p99 and the
// max-throughput ratio are reported alongside. See bench/README.md.
//
//   npm run bench:upstream                        (builds first; 10 s per target per phase)
//   BENCH_DURATION=3 npm run bench:upstream       (quicker, noisier)
//   BENCH_CPU_PROF=1 npm run bench:upstream       (also profiles the Gatehouse process)
//
// The fake provider and Gatehouse each run in their own child process, so the load generator (this
// process) never shares an event loop with what it measures. Exit status is 0 whether the target is
// met or not; it is 1 only when the benchmark itself could not run (a server failed to start, setup
// failed).
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 10)); // the same for both targets
// Each phase is cut into ROUNDS slices that alternate between the targets (A B, B A, …), so a burst
// of other work on the machine lands on both alike instead of on whichever ran then.
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5));
const RATE_FRACTION = 0.25; // the fixed-rate runs go at this share of Gatehouse's max throughput
const TARGETS = { p50DeltaMs: 2 };
const CPU_PROF = ['1', 'true', 'yes'].includes(String(process.env.BENCH_CPU_PROF ?? '').toLowerCase());
const RESULTS_FILE = join(here, 'results', 'upstream-latest.json');
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

/**
 * CPU use over one measured slice: of Gatehouse, of the fake provider, of this process, and of
 * everything else on the machine. Both servers are metered in every slice: Gatehouse's worker and
 * timers keep running while the baseline is measured.
 */
async function cpuMeter(pids) {
  const read = () => Promise.all([cpuSeconds(pids.gatehouse), cpuSeconds(pids.fake), machineCpuSeconds()]);
  const [gh0, fake0, machine0] = await read();
  const client0 = process.cpuUsage();
  return async () => {
    const [gh1, fake1, machine1] = await read();
    const client = process.cpuUsage(client0);
    const gatehouseS = gh0 === null || gh1 === null ? null : gh1 - gh0;
    const fakeS = fake0 === null || fake1 === null ? null : fake1 - fake0;
    const clientS = (client.user + client.system) / 1e6;
    const othersS =
      gatehouseS === null || fakeS === null || machine0 === null || machine1 === null
        ? null
        : Math.max(0, machine1 - machine0 - gatehouseS - fakeS - clientS);
    return { gatehouseS, fakeS, clientS, othersS };
  };
}

const indent = (text) => text.trim().split('\n').map((l) => `    ${l}`).join('\n');

// ---------------------------------------------------------------------------------------------
// Servers

async function startFake(token) {
  const proc = startChild('fake Email Bison', [join(here, 'fake-emailbison.mjs')], { ...process.env, PORT: '0', FAKE_TOKEN: token });
  const [, port] = await waitForOutput(proc, /listening (\d+)/, 30_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** Gatehouse's environment: nothing inherited from the caller's GATEHOUSE_* but the credential cache setting. */
function gatehouseEnv(dataDir, port) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'),
  );
  Object.assign(env, {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_LOG_LEVEL: 'warn',
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_HOST: '127.0.0.1',
    // The fake provider is on loopback, which Gatehouse refuses by default (SSRF guard).
    GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
    GATEHOUSE_MASTER_KEYS: `v1:${randomBytes(32).toString('base64')}`,
  });
  // Set it to measure another cache time, e.g. GATEHOUSE_CREDENTIAL_CACHE_MS=0 (decrypt on every call).
  if (process.env.GATEHOUSE_CREDENTIAL_CACHE_MS) env.GATEHOUSE_CREDENTIAL_CACHE_MS = process.env.GATEHOUSE_CREDENTIAL_CACHE_MS;
  return env;
}

async function startGatehouse(env, profileDir) {
  const args = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(root, 'dist', 'cli.js'), 'serve'];
  const proc = startChild('gatehouse', args, env);
  const [bootstrapKey] = await waitForOutput(proc, KEY_PATTERN, 120_000);
  return { proc, url: `http://127.0.0.1:${env.GATEHOUSE_PORT}`, bootstrapKey };
}

async function api(base, key, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

/**
 * Through the API, as an operator would: an organization, a workspace, an Email Bison instance at the
 * fake's URL, the workspace's credential (tested once), and a workspace key with scope upstream:call.
 */
async function setUpTenant(gh, fake, token) {
  const admin = (method, path, body) => api(gh.url, gh.bootstrapKey, method, path, body);
  const org = await admin('POST', '/v1/organizations', { name: 'bench org' });
  const ws = await admin('POST', `/v1/organizations/${org.json.id}/workspaces`, { name: 'bench workspace' });
  const instance = await admin('POST', '/v1/instances', { provider: 'emailbison', name: 'bench instance', base_url: `${fake.url}/api` });
  await admin('PUT', `/v1/workspaces/${ws.json.id}/credentials/emailbison`, { instance: instance.json.id, api_key: token, provider_workspace_id: '1' });
  const test = await admin('POST', `/v1/workspaces/${ws.json.id}/credentials/emailbison/test`);
  if (!test.json.ok) throw new Error(`the bench credential does not test ok: ${test.text}`);
  const key = await admin('POST', `/v1/workspaces/${ws.json.id}/api-keys`, { name: 'bench upstream key', scopes: ['upstream:call'] });
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
  const stopMeter = await cpuMeter(target.pids);
  const t0 = performance.now();
  const instance = autocannon({
    url: target.url + target.path,
    method: target.method,
    headers: target.headers,
    body: target.body,
    // Gatehouse's answer carries the provider's Date header and its own timing, so it is checked
    // for the provider's body rather than compared whole.
    verifyBody: target.checkString,
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
 * the client a few µs a request, so pacing does not depend on the load generator's own event loop
 * being idle. Chunked answers are not understood (counted as errors): neither target sends one.
 */
function createRawPool(target, size, onAnswer) {
  const { hostname, port } = new URL(target.url);
  const body = target.body === undefined ? '' : target.body;
  const head = [`${target.method} ${target.path} HTTP/1.1`, `host: ${hostname}:${port}`]
    .concat(Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}`))
    .concat(body ? [`content-length: ${Buffer.byteLength(body)}`] : [])
    .join('\r\n');
  const requestBytes = Buffer.from(`${head}\r\n\r\n${body}`);
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
      onAnswer(status < 200 || status >= 300 ? 'non2xx' : target.checkBuffer(answerBody) ? 'ok' : 'mismatches', ms);
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
  const stopMeter = await cpuMeter(target.pids);
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
  const gatehouseS = sumOrNull((s) => s.gatehouseS);
  const fakeS = sumOrNull((s) => s.fakeS);
  const othersS = sumOrNull((s) => s.othersS);
  const answered = sum((s) => s.answered);
  const [p50, p90, p99, p999, p100] = samples.percentiles(50, 90, 99, 99.9, 100);
  return {
    requestsPerSecond: Math.round(sum((s) => s.ok) / elapsedS),
    roundsRequestsPerSecond: slices.map((s) => Math.round(s.ok / s.elapsedS)),
    requests: sum((s) => s.ok),
    p50Ms: round(p50, 3),
    p90Ms: round(p90, 3),
    p99Ms: round(p99, 3),
    p999Ms: round(p999, 3),
    maxMs: round(p100, 3),
    non2xx: sum((s) => s.non2xx),
    errors: sum((s) => s.errors),
    timeouts: sum((s) => s.timeouts),
    mismatches: sum((s) => s.mismatches),
    gatehouseCpu: gatehouseS === null ? null : round(gatehouseS / elapsedS, 2),
    gatehouseCpuUsPerRequest: gatehouseS === null || !answered ? null : round((gatehouseS / answered) * 1e6, 1),
    fakeCpu: fakeS === null ? null : round(fakeS / elapsedS, 2),
    fakeCpuUsPerRequest: fakeS === null || !answered ? null : round((fakeS / answered) * 1e6, 1),
    clientCpu: round(sum((s) => s.clientS) / elapsedS, 2),
    /** Other processes' CPU, as a share of the whole machine, while this target was measured. */
    othersCpu: othersS === null ? null : round(othersS / elapsedS / availableParallelism(), 2),
    durationS: round(elapsedS, 2),
    /** Monotonic µs spans of the slices (for cutting the CPU profile); not written to the results. */
    windows: slices.map((s) => s.window),
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
      const from = monotonicUs();
      const result = await run(t, slice);
      result.window = [from, monotonicUs()];
      slices[t.name].push(result);
    }
  }
  process.stderr.write(process.stderr.isTTY ? '\n' : `${label}: ${ROUNDS} rounds done\n`);
  return Object.fromEntries(targets.map((t) => [t.name, summarize(slices[t.name])]));
}

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profiles on Linux, so a profile can be cut to the measured slices. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

// ---------------------------------------------------------------------------------------------
// Bookkeeping: every call that reached the provider through Gatehouse is in its call log and health

async function accounting(gh, fake, tenant) {
  const fakeStats = async () => (await fetch(`${fake.url}/__stats`)).json();
  // autocannon stops at the end of its slice without waiting for the answers still in flight, so
  // Gatehouse may still be finishing a few calls: wait until the fake has seen nothing new for 0.5 s.
  let stats = await fakeStats();
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    const next = await fakeStats();
    if (next.gatehouse === stats.gatehouse && next.direct === stats.direct) break;
    stats = next;
  }
  const health = await api(gh.url, gh.bootstrapKey, 'GET', `/v1/workspaces/${tenant.workspaceId}/health`);
  const eb = health.json.providers.find((p) => p.provider === 'emailbison');
  const healthCalls = eb ? eb.days.reduce((a, d) => a + d.calls, 0) : 0;
  // The export streams every row of the call log; each JSON row is one line starting with `{`.
  const res = await fetch(`${gh.url}/v1/workspaces/${tenant.workspaceId}/api-logs?format=json`, {
    headers: { authorization: `Bearer ${gh.bootstrapKey}` },
  });
  if (!res.ok) throw new Error(`GET api-logs → ${res.status}: ${await res.text()}`);
  let logRows = 0;
  let carry = '';
  for await (const chunk of res.body) {
    const text = carry + Buffer.from(chunk).toString('utf8');
    for (let i = text.indexOf('\n{'); i >= 0; i = text.indexOf('\n{', i + 2)) logRows++;
    carry = text.slice(-1);
  }
  return { providerSawThroughGatehouse: stats.gatehouse, providerSawDirect: stats.direct, unauthorized: stats.unauthorized, callLogRows: logRows, healthCalls };
}

// ---------------------------------------------------------------------------------------------
// Profile (BENCH_CPU_PROF=1): where Gatehouse's CPU time went during the measured slices, per call

const PROFILE_NAMES = { '(garbage collector)': '(garbage collector)', '(program)': '(program: V8 and native, no JS frame)', '(idle)': '(idle)' };

/** The package (or Gatehouse folder, or node internals) a profiled function belongs to. */
function areaOf({ url, functionName }) {
  if (!url) return PROFILE_NAMES[functionName] ?? `(native: ${functionName.replace(/[()]/g, '') || '?'})`;
  if (url.startsWith('wasm://')) return 'PGlite (Postgres compiled to WebAssembly)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `gatehouse ${url.slice(dist + 6).replace(/\/[^/]+$/, '')}`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

const frameName = ({ url, functionName, lineNumber }) => {
  if (!url) return functionName;
  const short = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/');
  return `${functionName || '(anonymous)'}  ${short}:${lineNumber + 1}`;
};

/** Self time of the samples that fall inside `windows` (monotonic µs), per call, by area and by function. */
function summarizeProfile(profile, windows, calls) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const areas = new Map();
  const functions = new Map();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (!windows.some(([from, to]) => t >= from && t <= to)) continue;
    const frame = byId.get(profile.samples[i]);
    if (frame.functionName === '(idle)' && !frame.url) {
      idle += dt;
      continue;
    }
    busy += dt;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const fn = frameName(frame);
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
  }
  const top = (m, n) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, usPerCall: round(us / calls, 1), share: round(us / busy, 3) }));
  return { calls, busyUsPerCall: round(busy / calls, 1), idleUsPerCall: round(idle / calls, 1), byArea: top(areas, 14), byFunction: top(functions, 20) };
}

function profileLines(title, p) {
  const out = [`  ${title}: ${fmtInt(p.calls)} calls, ${p.busyUsPerCall} µs of CPU (main thread) per call`];
  out.push('    by package / area (self time, µs per call)');
  for (const a of p.byArea) out.push(`      ${a.usPerCall.toFixed(0).padStart(5)}  ${fmtPct(a.share).padStart(4)}  ${a.name}`);
  if (p.byFunction) {
    out.push('    by function (self time, µs per call)');
    for (const f of p.byFunction) out.push(`      ${f.usPerCall.toFixed(0).padStart(5)}  ${fmtPct(f.share).padStart(4)}  ${f.name}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n) => (n === null || n === undefined ? '–' : n.toFixed(2));
const fmtPct = (n) => (n === null || n === undefined ? '–' : `${Math.round(n * 100)}%`);
const fmtSigned = (n) => (n === null ? '–' : `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`);
const failures = (r) => r.non2xx + r.errors + r.timeouts + r.mismatches;

function table(rows) {
  const header = ['', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'gatehouse CPU', 'µs/req', 'fake CPU', 'client CPU', 'failed'];
  const measured = rows.filter(({ r }) => r !== undefined);
  const body = measured.map(({ label, r }) => [
    label,
    fmtInt(r.requestsPerSecond),
    fmtMs(r.p50Ms),
    fmtMs(r.p90Ms),
    fmtMs(r.p99Ms),
    fmtMs(r.p999Ms),
    fmtPct(r.gatehouseCpu),
    r.gatehouseCpuUsPerRequest === null ? '–' : r.gatehouseCpuUsPerRequest.toFixed(0),
    fmtPct(r.fakeCpu),
    fmtPct(r.clientCpu),
    String(failures(r)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...(i === 0 ? rows.map(({ label }) => label.length) : []), ...body.map((row) => row[i].length)));
  const line = (cells) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const skipped = rows.filter(({ r }) => r === undefined).map(({ label }) => `  ${label.padEnd(widths[0])}  not run`);
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
  const profileDir = CPU_PROF ? await mkdtemp(join(tmpdir(), 'gatehouse-bench-profile-')) : null;
  const token = `12|${randomBytes(30).toString('base64url')}`;
  let gatehouse;
  let fake;
  let profile = null;
  try {
    const env = gatehouseEnv(dataDir, await freePort());
    // The exact figure the child runs with, from Gatehouse's own config parser.
    const { loadConfig } = await import('../dist/config.js');
    const credentialCacheMs = loadConfig(env).credentialCacheMs;

    process.stderr.write('starting the fake Email Bison and Gatehouse…\n');
    [fake, gatehouse] = await Promise.all([startFake(token), startGatehouse(env, profileDir)]);
    const tenant = await setUpTenant(gatehouse, fake, token);

    const userBody = JSON.stringify({ data: { id: 1, name: 'Bench User', email: 'bench@example.com' } });
    const viaGatehouse = { prefix: '{"status":200,', body: `"body":${userBody}` };
    const viaGatehouseBytes = { prefix: Buffer.from(viaGatehouse.prefix), body: Buffer.from(viaGatehouse.body) };
    const userBytes = Buffer.from(userBody);
    const pids = { gatehouse: gatehouse.proc.pid, fake: fake.proc.pid };
    const targets = {
      baseline: {
        name: 'baseline', label: 'baseline   GET fake /api/users', url: fake.url, path: '/api/users', method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, pids,
        checkString: (b) => b === userBody,
        checkBuffer: (b) => b.equals(userBytes),
      },
      gatehouse: {
        name: 'gatehouse', label: 'gatehouse  POST /v1/workspaces/:id/upstream/emailbison', url: gatehouse.url,
        path: `/v1/workspaces/${tenant.workspaceId}/upstream/emailbison`, method: 'POST',
        headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'GET', path: '/users' }), pids,
        checkString: (b) => b.startsWith(viaGatehouse.prefix) && b.includes(viaGatehouse.body),
        checkBuffer: (b) => b.subarray(0, viaGatehouseBytes.prefix.length).equals(viaGatehouseBytes.prefix) && b.indexOf(viaGatehouseBytes.body) >= 0,
      },
    };
    // One request each before measuring: the answer must be the success the run is meant to time.
    for (const t of Object.values(targets)) {
      const res = await fetch(t.url + t.path, { method: t.method, headers: t.headers, body: t.body });
      const text = await res.text();
      if (res.status !== 200 || !t.checkString(text)) throw new Error(`${t.method} ${t.url}${t.path} → ${res.status}: ${text}`);
    }

    const order = [targets.baseline, targets.gatehouse];
    process.stderr.write(`warming up (${WARMUP} s each)…\n`);
    for (const t of order) await runAutocannon(t, { duration: WARMUP });

    const max = await phase('max throughput', order, (t, duration) => runAutocannon(t, { duration }));
    const rate = Math.max(CONNECTIONS, Math.round(max.gatehouse.requestsPerSecond * RATE_FRACTION));
    const paced = await phase(`fixed rate ${rate} req/s, paced`, order, (t, duration) => runPaced(t, { duration, rate }));
    const fixed = await phase(`fixed rate ${rate} req/s, autocannon overallRate`, order, (t, duration) =>
      runAutocannon(t, { duration, overallRate: rate }),
    );

    process.stderr.write('checking the call log and health counters…\n');
    const books = await accounting(gatehouse, fake, tenant);

    const p50DeltaMs = round(paced.gatehouse.p50Ms - paced.baseline.p50Ms, 3);
    const p99DeltaMs = round(paced.gatehouse.p99Ms - paced.baseline.p99Ms, 3);
    const p50DeltaAutocannonMs = round(fixed.gatehouse.p50Ms - fixed.baseline.p50Ms, 3);
    const p99DeltaAutocannonMs = round(fixed.gatehouse.p99Ms - fixed.baseline.p99Ms, 3);
    const throughputRatio = round(max.gatehouse.requestsPerSecond / max.baseline.requestsPerSecond, 3);
    const throughputRounds = ratioRange(max.gatehouse, max.baseline);
    const pass = { p50: p50DeltaMs <= TARGETS.p50DeltaMs };
    const booksBalance = books.providerSawThroughGatehouse === books.callLogRows && books.callLogRows === books.healthCalls;

    const cpuList = cpus();
    const out = [];
    out.push('');
    out.push(`Gatehouse upstream call vs calling the provider directly — ${startedAt.toISOString()}`);
    out.push(`node ${process.version}, ${availableParallelism()} CPUs (${cpuList[0]?.model.trim() ?? 'unknown'}), PGlite; ` +
      `${DURATION} s per target per phase in ${ROUNDS} alternating rounds, ${WARMUP} s warm-up, ${CONNECTIONS} connections`);
    out.push(`decrypted-credential cache: GATEHOUSE_CREDENTIAL_CACHE_MS=${credentialCacheMs}` +
      (credentialCacheMs > 0 ? ` (a credential is decrypted at most once per ${credentialCacheMs / 1000} s per process; a change anywhere evicts it via NOTIFY)` : ' (decrypted on every call)'));
    out.push('');
    out.push(`max throughput (autocannon, ${CONNECTIONS} connections)`);
    out.push(table(order.map((t) => ({ label: t.label, r: max[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s (${RATE_FRACTION * 100}% of Gatehouse's max), paced: evenly spaced, open loop`);
    out.push(table(order.map((t) => ({ label: t.label, r: paced[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s, autocannon overallRate (bursty: each connection sends its per-second quota back to back)`);
    out.push(table(order.map((t) => ({ label: t.label, r: fixed[t.name] }))));
    out.push('');
    out.push(`p50 overhead (gatehouse − baseline), paced rate   ${fmtSigned(p50DeltaMs)} ms   target ≤ +${TARGETS.p50DeltaMs} ms   ${pass.p50 ? 'PASS' : 'MISS'}`);
    out.push(`p99 overhead, paced rate                          ${fmtSigned(p99DeltaMs)} ms`);
    out.push(`gatehouse / baseline max throughput               ${throughputRatio.toFixed(2)}        (rounds ${throughputRounds.min}–${throughputRounds.max})`);
    out.push(`(info) p50 / p99 overhead at autocannon overallRate  ${fmtSigned(p50DeltaAutocannonMs)} / ${fmtSigned(p99DeltaAutocannonMs)} ms`);
    out.push(`(info) Gatehouse CPU per upstream call at max throughput  ${max.gatehouse.gatehouseCpuUsPerRequest ?? '–'} µs`);
    out.push(`call log and health: ${fmtInt(books.providerSawThroughGatehouse)} calls reached the provider through Gatehouse, ` +
      `${fmtInt(books.callLogRows)} rows in the call log, ${fmtInt(books.healthCalls)} calls in health   ${booksBalance ? 'all recorded' : 'MISMATCH'}`);

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

    if (profileDir) {
      await stopChild(gatehouse.proc); // the profile is written as the process exits
      const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const raw = JSON.parse(await readFile(join(profileDir, file), 'utf8'));
        const callsIn = (r) => r.requests + failures(r);
        profile = {
          file: join(profileDir, file),
          paced: summarizeProfile(raw, paced.gatehouse.windows, callsIn(paced.gatehouse)),
          max: summarizeProfile(raw, max.gatehouse.windows, callsIn(max.gatehouse)),
        };
        out.push('', `Gatehouse CPU profile, measured gatehouse slices only: ${profile.file}`);
        out.push(...profileLines(`paced ${rate} req/s`, profile.paced));
        out.push(...profileLines('max throughput', { ...profile.max, byFunction: null }));
      } else {
        out.push('', `no CPU profile was written in ${profileDir}`);
      }
    }
    out.push(`\nresults: ${RESULTS_FILE.slice(root.length + 1)}`);
    process.stdout.write(out.join('\n') + '\n');

    await mkdir(dirname(RESULTS_FILE), { recursive: true });
    await writeFile(
      RESULTS_FILE,
      JSON.stringify(
        {
          benchmark: 'upstream',
          startedAt: startedAt.toISOString(),
          node: process.version,
          cpus: availableParallelism(),
          cpuModel: cpuList[0]?.model.trim() ?? null,
          config: {
            durationS: DURATION, rounds: ROUNDS, warmupS: WARMUP, connections: CONNECTIONS, fixedRate: rate, rateFraction: RATE_FRACTION,
            database: 'pglite', credentialCacheMs,
          },
          targets: TARGETS,
          ratios: {
            p50DeltaMsAtFixedRate: p50DeltaMs,
            p99DeltaMsAtFixedRate: p99DeltaMs,
            p50DeltaMsAtAutocannonOverallRate: p50DeltaAutocannonMs,
            p99DeltaMsAtAutocannonOverallRate: p99DeltaAutocannonMs,
            gatehouseToBaselineThroughput: throughputRatio,
            gatehouseToBaselineThroughputRounds: throughputRounds,
          },
          pass,
          accounting: { ...books, allRecorded: booksBalance },
          maxOtherProcessesCpu: busiest,
          max,
          fixedPaced: paced,
          fixedAutocannonOverallRate: fixed,
          ...(profile ? { profile } : {}),
        },
        (key, value) => (key === 'windows' ? undefined : value),
        2,
      ) + '\n',
    );
  } finally {
    await Promise.all([fake, gatehouse].filter(Boolean).map((s) => stopChild(s.proc)));
    // Anything started but not yet returned (a failed start) is still in `children`.
    await Promise.all([...children].map((p) => stopChild(p, 3000)));
    await rm(dataDir, { recursive: true, force: true });
  }
}

const prefixed = (prefix, runs) => Object.fromEntries(Object.entries(runs).map(([k, v]) => [`${prefix} ${k}`, v]));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:upstream could not run: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
