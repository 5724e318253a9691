// Benchmark: POST /v1/keys/verify (the key-verification hot path) against a bare Fastify route,
// both measured in the same run, reported as ratios. GET /v1/workspaces/:id (Bearer auth + one
// database read) is measured alongside for information. See bench/README.md.
//
//   npm run bench:keys                       (builds first; 10 s per measured run)
//   BENCH_DURATION=3 npm run bench:keys      (quicker, noisier)
//
// Each server runs in its own child process, so autocannon (in this process) never shares an
// event loop with the server it measures. Exit status is 0 whether the targets are met or not;
// it is 1 only when the benchmark itself could not run (a server failed to start, setup failed).
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
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

const DURATION = envNumber('BENCH_DURATION', 10); // seconds per measured run
const WARMUP = envNumber('BENCH_WARMUP', 2); // seconds of warm-up per target
const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 50));
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
  percentiles(...ps) {
    const sorted = this.values.slice(0, this.length).sort();
    return ps.map((p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN));
  }
}

/**
 * One autocannon run. Latency percentiles come from every 2xx response's raw time; requests/s is
 * completed 2xx responses over the run's duration. Server and client CPU are measured over the run.
 */
async function measure(target, { duration, overallRate }) {
  const samples = new Samples();
  const serverCpu0 = await cpuSeconds(target.pid);
  const clientCpu0 = process.cpuUsage();
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
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpu1 = await cpuSeconds(target.pid);
  const clientCpu = process.cpuUsage(clientCpu0);
  const [p50, p99, p999] = samples.percentiles(50, 99, 99.9);
  return {
    requestsPerSecond: Math.round(result['2xx'] / result.duration),
    requests: result['2xx'],
    p50Ms: round(p50, 3),
    p99Ms: round(p99, 3),
    p999Ms: round(p999, 3),
    maxMs: round(result.latency.max, 3),
    autocannonP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    serverCpu: serverCpu0 === null || serverCpu1 === null ? null : round((serverCpu1 - serverCpu0) / elapsed, 2),
    serverCpuUsPerRequest: cpuPerRequest(serverCpu0, serverCpu1, result['2xx'] + result.non2xx),
    clientCpu: round((clientCpu.user + clientCpu.system) / 1e6 / elapsed, 2),
    durationS: result.duration,
  };
}

/**
 * A fixed rate that really is fixed: requests leave evenly spaced (a batch every millisecond at
 * most), whatever the answers are doing (open loop), over a keep-alive pool of CONNECTIONS sockets.
 * autocannon's `overallRate` is not this: each connection sends its per-second quota back to back
 * at the top of every second, then idles, so its "fixed rate" latency is the latency of a burst at
 * full concurrency. Latency here runs from handing the request to the pool (so waiting for a free
 * socket counts) to the last byte of the answer.
 */
async function measurePaced(target, { duration, rate }) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
  const { hostname, port } = new URL(target.url);
  const body = target.body === undefined ? null : Buffer.from(target.body);
  const headers = { ...target.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const total = Math.round(rate * duration);
  const samples = new Samples();
  const counts = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, mismatches: 0 };
  const serverCpu0 = await cpuSeconds(target.pid);
  const clientCpu0 = process.cpuUsage();
  const start = performance.now();
  let sent = 0;
  let settled = 0;
  let lastAnswer = start;
  await new Promise((resolve) => {
    const settle = () => {
      settled++;
      if (settled === total) resolve();
    };
    const fire = () => {
      const t = performance.now();
      let finished = false;
      const finish = (kind) => {
        if (finished) return;
        finished = true;
        if (kind) counts[kind]++;
        settle();
      };
      const req = httpRequest({ agent, hostname, port, path: target.path, method: target.method, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          lastAnswer = performance.now();
          if (res.statusCode < 200 || res.statusCode >= 300) return finish('non2xx');
          if (Buffer.concat(chunks).toString() !== target.expectBody) return finish('mismatches');
          samples.push(lastAnswer - t);
          finish('ok');
        });
        res.on('error', () => finish('errors'));
      });
      req.setTimeout(10_000, () => {
        finish('timeouts');
        req.destroy();
      });
      req.on('error', () => finish('errors'));
      req.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  const serverCpu1 = await cpuSeconds(target.pid);
  const clientCpu = process.cpuUsage(clientCpu0);
  agent.destroy();
  const [p50, p99, p999] = samples.percentiles(50, 99, 99.9);
  return {
    requestsPerSecond: Math.round(counts.ok / ((lastAnswer - start) / 1000)),
    requests: counts.ok,
    p50Ms: round(p50, 3),
    p99Ms: round(p99, 3),
    p999Ms: round(p999, 3),
    maxMs: round(samples.percentiles(100)[0], 3),
    non2xx: counts.non2xx,
    errors: counts.errors,
    timeouts: counts.timeouts,
    mismatches: counts.mismatches,
    serverCpu: serverCpu0 === null || serverCpu1 === null ? null : round((serverCpu1 - serverCpu0) / elapsed, 2),
    serverCpuUsPerRequest: cpuPerRequest(serverCpu0, serverCpu1, total),
    clientCpu: round((clientCpu.user + clientCpu.system) / 1e6 / elapsed, 2),
    durationS: round(elapsed, 2),
  };
}

/** Server CPU time per answered request in µs: unlike req/s, barely moved by other load on the machine. */
const cpuPerRequest = (cpu0, cpu1, requests) => (cpu0 === null || cpu1 === null || !requests ? null : round(((cpu1 - cpu0) / requests) * 1e6, 1));

const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n) => (n === null || n === undefined ? '–' : n.toFixed(2));
const fmtPct = (n) => (n === null || n === undefined ? '–' : `${Math.round(n * 100)}%`);

function table(rows) {
  const header = ['', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'server CPU', 'µs CPU/req', 'client CPU', 'failed'];
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
    String(r.non2xx + r.errors + r.timeouts + r.mismatches),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...(i === 0 ? rows.map(({ label }) => label.length) : []), ...body.map((row) => row[i].length)));
  const line = (cells) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const skipped = rows.filter(({ r }) => r === undefined).map(({ label }) => `  ${label.padEnd(widths[0])}  not run: its max throughput is below this rate`);
  return [line(header), ...body.map(line), ...skipped].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

/** Share of all CPUs busy over `ms`, from /proc/stat; null where there is none. */
async function machineBusy(ms = 1000) {
  const sample = async () => {
    try {
      const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
      const v = cpu.trim().split(/\s+/).slice(1).map(Number);
      const idle = v[3] + (v[4] ?? 0);
      return { idle, total: v.reduce((a, b) => a + b, 0) };
    } catch {
      return null;
    }
  };
  const a = await sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = await sample();
  if (!a || !b || b.total === a.total) return null;
  return round(1 - (b.idle - a.idle) / (b.total - a.total), 2);
}

async function main() {
  const startedAt = new Date();
  const busyBefore = await machineBusy();
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
    // and every measured response is compared with it (a difference counts as failed).
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
    const say = (what, t) => process.stderr.write(`${what}: ${t.label.replace(/\s+/, ' ')} (${DURATION} s)…\n`);
    process.stderr.write(`warming up (${WARMUP} s each)…\n`);
    for (const t of order) await measure(t, { duration: WARMUP });

    const max = {};
    for (const t of order) {
      say('max throughput', t);
      max[t.name] = await measure(t, { duration: DURATION });
    }
    const rate = Math.max(CONNECTIONS, Math.round(max.baseline.requestsPerSecond * RATE_FRACTION));
    // The informational route joins the fixed-rate runs only if it can sustain the rate: past its
    // max, an open-loop queue only grows and the run measures that queue for ever longer.
    const fixedOrder = max.get.requestsPerSecond >= rate * 1.1 ? order : [targets.baseline, targets.verify];
    const paced = {};
    for (const t of fixedOrder) {
      say(`fixed rate ${rate} req/s, paced`, t);
      paced[t.name] = await measurePaced(t, { duration: DURATION, rate });
    }
    const fixed = {};
    for (const t of fixedOrder) {
      say(`fixed rate ${rate} req/s, autocannon overallRate`, t);
      fixed[t.name] = await measure(t, { duration: DURATION, overallRate: rate });
    }
    const busyAfter = await machineBusy();

    const throughputRatio = round(max.verify.requestsPerSecond / max.baseline.requestsPerSecond, 3);
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
    out.push(`node ${process.version}, ${availableParallelism()} CPUs (${cpuList[0]?.model.trim() ?? 'unknown'}), ` +
      `${CONNECTIONS} connections, ${DURATION} s per run, ${WARMUP} s warm-up, PGlite`);
    out.push(`CPU in use by other processes just before the run: ${fmtPct(busyBefore)} of the machine; just after: ${fmtPct(busyAfter)}`);
    out.push('');
    out.push(`max throughput (autocannon, ${CONNECTIONS} connections)`);
    out.push(table(order.map((t) => ({ label: t.label, r: max[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s (${RATE_FRACTION * 100}% of the baseline's max), paced: evenly spaced, open loop`);
    out.push(table(order.map((t) => ({ label: t.label, r: paced[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s, autocannon overallRate (bursts: each second's quota sent at full concurrency)`);
    out.push(table(order.map((t) => ({ label: t.label, r: fixed[t.name] }))));
    out.push('');
    out.push(`verify / baseline throughput            ${throughputRatio.toFixed(2)}      target ≥ ${TARGETS.throughputRatio}    ${pass.throughput ? 'PASS' : 'MISS'}`);
    out.push(`p99 verify − p99 baseline, paced rate   ${p99DeltaMs.toFixed(2)} ms   target ≤ ${TARGETS.p99DeltaMs} ms   ${pass.p99 ? 'PASS' : 'MISS'}`);
    out.push(`(info) same, autocannon overallRate     ${p99DeltaAutocannonMs.toFixed(2)} ms`);
    out.push(`(info) baseline / verify server CPU per request at max  ${cpuRatio === null ? '–' : cpuRatio.toFixed(2)}   (a proxy for the throughput ratio that other load on the machine barely moves)`);
    out.push(`(info) GET /v1/workspaces/:id / baseline throughput  ${getRatio.toFixed(2)}`);
    const all = { ...prefixed('max', max), ...prefixed('paced', paced), ...prefixed('overallRate', fixed) };
    const failed = Object.entries(all)
      .filter(([, r]) => r.non2xx + r.errors + r.timeouts + r.mismatches > 0)
      .map(([k, r]) => `${k}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts, ${r.mismatches} unexpected bodies`);
    if (failed.length) out.push('', 'WARNING: some requests failed; their latencies are not in the figures:', ...failed.map((f) => `  ${f}`));
    const short = Object.entries(paced).filter(([, r]) => r.requestsPerSecond < rate * 0.95);
    if (short.length) out.push('', `WARNING: paced run(s) ${short.map(([k]) => k).join(', ')} answered < 95% of the offered rate: the server could not keep up.`);
    const saturated = Object.entries(max).filter(([, r]) => r.clientCpu !== null && r.clientCpu >= 0.95);
    if (saturated.length) {
      out.push('', `WARNING: the load generator used ≥95% of a core during the max-throughput run of ${saturated.map(([k]) => k).join(', ')}; ` +
        'that figure may be the client\'s limit, not the server\'s.');
    }
    if (busyBefore !== null && busyBefore > 0.1) {
      out.push('', `WARNING: other processes were using ${fmtPct(busyBefore)} of the machine's CPU before the run; the figures are noisy.`);
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
          machineBusyBefore: busyBefore,
          machineBusyAfter: busyAfter,
          config: { durationS: DURATION, warmupS: WARMUP, connections: CONNECTIONS, fixedRate: rate, rateFraction: RATE_FRACTION, database: 'pglite' },
          targets: TARGETS,
          ratios: {
            verifyToBaselineThroughput: throughputRatio,
            p99DeltaMsAtFixedRate: p99DeltaMs,
            p99DeltaMsAtAutocannonOverallRate: p99DeltaAutocannonMs,
            getToBaselineThroughput: getRatio,
            baselineToVerifyCpuPerRequest: cpuRatio,
          },
          pass,
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
