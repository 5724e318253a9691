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
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  api, createRunner, envNumber, failures, fmtInt, fmtMs, fmtPct, freePort, gatehouseEnv as baseGatehouseEnv, here, pushWarnings,
  ratioRange, root, round, sleep, startGatehouse, startListener, stopAllChildren, stopChild, table,
} from './lib.mjs';

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

// Both servers are metered in every slice (each target's `pids` is both): Gatehouse's worker and
// timers keep running while the baseline is measured.
const { runAutocannon, runPaced, phase } = createRunner({
  connections: CONNECTIONS, duration: DURATION, rounds: ROUNDS, percentiles: [50, 90, 99, 99.9], cpuNames: ['gatehouse', 'fake'], windows: true,
});

// ---------------------------------------------------------------------------------------------
// Servers

const startFake = (token) => startListener('fake Email Bison', join(here, 'fake-emailbison.mjs'), { FAKE_TOKEN: token });

/** Gatehouse's environment: nothing inherited from the caller's GATEHOUSE_* but the credential cache setting. */
function gatehouseEnv(dataDir, port) {
  const env = baseGatehouseEnv(dataDir, port, {
    // The fake provider is on loopback, which Gatehouse refuses by default (SSRF guard).
    GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
    GATEHOUSE_MASTER_KEYS: `v1:${randomBytes(32).toString('base64')}`,
  });
  // Set it to measure another cache time, e.g. GATEHOUSE_CREDENTIAL_CACHE_MS=0 (decrypt on every call).
  if (process.env.GATEHOUSE_CREDENTIAL_CACHE_MS) env.GATEHOUSE_CREDENTIAL_CACHE_MS = process.env.GATEHOUSE_CREDENTIAL_CACHE_MS;
  return env;
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

const fmtSigned = (n) => (n === null ? '–' : `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`);

const COLUMNS = [
  ['req/s', (r) => fmtInt(r.requestsPerSecond)],
  ['p50 ms', (r) => fmtMs(r.p50Ms)],
  ['p90 ms', (r) => fmtMs(r.p90Ms)],
  ['p99 ms', (r) => fmtMs(r.p99Ms)],
  ['p99.9 ms', (r) => fmtMs(r.p999Ms)],
  ['gatehouse CPU', (r) => fmtPct(r.gatehouseCpu)],
  ['µs/req', (r) => (r.gatehouseCpuUsPerRequest === null ? '–' : r.gatehouseCpuUsPerRequest.toFixed(0))],
  ['fake CPU', (r) => fmtPct(r.fakeCpu)],
  ['client CPU', (r) => fmtPct(r.clientCpu)],
  ['failed', (r) => String(failures(r))],
];
const upstreamTable = (rows) => table(rows, COLUMNS, 'not run');

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
    const pids = [gatehouse.proc.pid, fake.proc.pid];
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
    out.push(upstreamTable(order.map((t) => ({ label: t.label, r: max[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s (${RATE_FRACTION * 100}% of Gatehouse's max), paced: evenly spaced, open loop`);
    out.push(upstreamTable(order.map((t) => ({ label: t.label, r: paced[t.name] }))));
    out.push('');
    out.push(`fixed rate ${fmtInt(rate)} req/s, autocannon overallRate (bursty: each connection sends its per-second quota back to back)`);
    out.push(upstreamTable(order.map((t) => ({ label: t.label, r: fixed[t.name] }))));
    out.push('');
    out.push(`p50 overhead (gatehouse − baseline), paced rate   ${fmtSigned(p50DeltaMs)} ms   target ≤ +${TARGETS.p50DeltaMs} ms   ${pass.p50 ? 'PASS' : 'MISS'}`);
    out.push(`p99 overhead, paced rate                          ${fmtSigned(p99DeltaMs)} ms`);
    out.push(`gatehouse / baseline max throughput               ${throughputRatio.toFixed(2)}        (rounds ${throughputRounds.min}–${throughputRounds.max})`);
    out.push(`(info) p50 / p99 overhead at autocannon overallRate  ${fmtSigned(p50DeltaAutocannonMs)} / ${fmtSigned(p99DeltaAutocannonMs)} ms`);
    out.push(`(info) Gatehouse CPU per upstream call at max throughput  ${max.gatehouse.gatehouseCpuUsPerRequest ?? '–'} µs`);
    out.push(`call log and health: ${fmtInt(books.providerSawThroughGatehouse)} calls reached the provider through Gatehouse, ` +
      `${fmtInt(books.callLogRows)} rows in the call log, ${fmtInt(books.healthCalls)} calls in health   ${booksBalance ? 'all recorded' : 'MISMATCH'}`);

    const busiest = pushWarnings(out, { max, paced, fixed, rate });

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
    await stopAllChildren(3000);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:upstream could not run: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
