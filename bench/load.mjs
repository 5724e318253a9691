// The load generators of the benchmarks: autocannon slices, a paced raw-socket client, phases of
// alternating rounds, and the global-fetch loop that bench:webhooks, bench:inbound and bench:memory
// drive both sides of a comparison with. Re-exported by bench/lib.mjs. See bench/README.md.
import autocannon from 'autocannon';
import { connect } from 'node:net';
import { CPU_COUNT, cpuMeter, monotonicUs, round, sleep } from './lib.mjs';

/** Raw response times in ms (autocannon's own histogram rounds to whole milliseconds). */
export class Samples {
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
 * A minimal HTTP/1.1 keep-alive client over raw sockets for the paced runs: the request bytes are
 * built once, an answer is read by its content-length, one request in flight per socket. It costs
 * the client a few µs a request; node:http's client costs tens, too many to pace the baseline's rate
 * from one core. Chunked answers are not understood (counted as errors): none of the targets sends one.
 * A 2xx answer is checked with `target.checkBuffer(body)` if given, else compared with `target.expectBody`.
 */
export function createRawPool(target, size, onAnswer) {
  const { hostname, port } = new URL(target.url);
  const body = target.body === undefined ? '' : target.body;
  const head = [`${target.method} ${target.path} HTTP/1.1`, `host: ${hostname}:${port}`]
    .concat(Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}`))
    .concat(body ? [`content-length: ${Buffer.byteLength(body)}`] : [])
    .join('\r\n');
  const requestBytes = Buffer.from(`${head}\r\n\r\n${body}`);
  const expected = Buffer.from(target.expectBody ?? '');
  const check = target.checkBuffer ?? ((b) => b.equals(expected));
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
      onAnswer(status < 200 || status >= 300 ? 'non2xx' : check(answerBody) ? 'ok' : 'mismatches', ms);
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

/** `p99.9` → `p999Ms`; the 100th percentile is `maxMs`. */
const percentileKey = (p) => (p === 100 ? 'maxMs' : `p${String(p).replace('.', '')}Ms`);

/**
 * The load generators and phases of one benchmark.
 *   connections   autocannon connections, and the paced client's socket limit
 *   duration      seconds per target in each phase; rounds: slices per phase
 *   percentiles   the latency percentiles reported (besides the max)
 *   cpuNames      a name per pid in `target.pids`: `<name>Cpu` and `<name>CpuUsPerRequest` in the summary
 *   windows       whether summaries keep the slices' monotonic µs spans (`windows`)
 */
export function createRunner({ connections, duration: phaseDuration, rounds, percentiles, cpuNames, windows = false }) {
  /**
   * One autocannon slice. Latency is every 2xx answer's raw time; the CPU figures cover the slice.
   * Returns raw figures: `summarize` merges the slices of a phase. A 2xx answer is checked with
   * `target.checkString` if given, else compared with `target.expectBody`.
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
      // Per-request headers and bodies (e.g. a fresh signature each time), when the target has them.
      ...(target.requests ? { requests: target.requests } : {}),
      ...(target.checkString ? { verifyBody: target.checkString } : { expectBody: target.expectBody }),
      connections,
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
   * A fixed rate that really is fixed: requests leave evenly spaced (a batch every millisecond at
   * most), whatever the answers are doing (open loop), over up to `connections` keep-alive sockets.
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
    const pool = createRawPool(target, connections, (kind, ms) => {
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
    const processS = cpuNames.map((_, i) => sumOrNull((s) => s.processS[i]));
    const othersS = sumOrNull((s) => s.othersS);
    const answered = sum((s) => s.answered);
    const ps = [...percentiles, 100];
    const values = samples.percentiles(...ps);
    const cpu = {};
    cpuNames.forEach((name, i) => {
      const s = processS[i];
      cpu[`${name}Cpu`] = s === null ? null : round(s / elapsedS, 2);
      cpu[`${name}CpuUsPerRequest`] = s === null || !answered ? null : round((s / answered) * 1e6, 1);
    });
    return {
      requestsPerSecond: Math.round(sum((s) => s.ok) / elapsedS),
      roundsRequestsPerSecond: slices.map((s) => Math.round(s.ok / s.elapsedS)),
      roundsP99Ms: slices.map((s) => round(s.samples.percentiles(99)[0], 3)),
      requests: sum((s) => s.ok),
      ...Object.fromEntries(ps.map((p, i) => [percentileKey(p), round(values[i], 3)])),
      non2xx: sum((s) => s.non2xx),
      errors: sum((s) => s.errors),
      timeouts: sum((s) => s.timeouts),
      mismatches: sum((s) => s.mismatches),
      ...cpu,
      clientCpu: round(sum((s) => s.clientS) / elapsedS, 2),
      /** Other processes' CPU, as a share of the whole machine, while this target was measured. */
      othersCpu: othersS === null ? null : round(othersS / elapsedS / CPU_COUNT, 2),
      durationS: round(elapsedS, 2),
      /** Monotonic µs spans of the slices (for cutting a CPU profile). */
      ...(windows ? { windows: slices.map((s) => s.window) } : {}),
    };
  }

  /**
   * Runs `run(target, sliceSeconds)` for every target, `rounds` times (or `opts.rounds`), alternating
   * the order each round; returns each target's merged figures.
   */
  async function phase(label, targets, run, opts = {}) {
    const phaseRounds = opts.rounds ?? rounds;
    const slice = phaseDuration / phaseRounds;
    const slices = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let r = 0; r < phaseRounds; r++) {
      for (const t of r % 2 ? [...targets].reverse() : targets) {
        if (process.stderr.isTTY) process.stderr.write(`\r${label}: round ${r + 1}/${phaseRounds}, ${t.name}      `);
        const from = monotonicUs();
        const result = await run(t, slice);
        result.window = [from, monotonicUs()];
        slices[t.name].push(result);
      }
    }
    process.stderr.write(process.stderr.isTTY ? '\n' : `${label}: ${phaseRounds} rounds done\n`);
    return Object.fromEntries(targets.map((t) => [t.name, summarize(slices[t.name])]));
  }

  return { runAutocannon, runPaced, summarize, phase };
}

/**
 * The client bench:webhooks, bench:inbound and bench:memory drive both sides of a comparison with:
 * global `fetch` (Node's built-in undici, keep-alive), `concurrency` requests in flight, `n` in all.
 * `target.request(i)` gives request i's `[url, init]`; an answer is ok when its status is
 * `target.status` and `target.check(text)` holds (when given). CPU is metered for `target.pids`.
 */
export async function fetchLoop(target, { n, concurrency }) {
  const samples = new Samples();
  let ok = 0;
  let failed = 0;
  let firstFailure = null;
  let next = 0;
  const stopMeter = await cpuMeter(target.pids ?? []);
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const [url, init] = target.request(next++);
      const sent = performance.now();
      try {
        const res = await fetch(url, init);
        const text = await res.text();
        if (res.status === target.status && (!target.check || target.check(text))) {
          ok++;
          samples.push(performance.now() - sent);
        } else {
          failed++;
          firstFailure ??= `${res.status} ${text.slice(0, 300)}`;
        }
      } catch (err) {
        failed++;
        firstFailure ??= err.cause?.message ?? err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  return { samples, ok, failed, firstFailure, elapsedS, ...(await stopMeter()) };
}

/**
 * `rounds` fetch loops per target, `n / rounds` requests each, alternating the order every round
 * (A B, B A, …) so a burst of other work on the machine lands on every target alike; each target's
 * slices merged: req/s, latency percentiles, and CPU µs per answer of each of its pids.
 */
export async function fetchPhase(label, targets, { n, rounds, concurrency }) {
  const slices = Object.fromEntries(targets.map((t) => [t.name, []]));
  const perSlice = Math.max(1, Math.round(n / rounds));
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      if (process.stderr.isTTY) process.stderr.write(`\r${label}: round ${r + 1}/${rounds}, ${t.name}      `);
      slices[t.name].push(await fetchLoop(t, { n: perSlice, concurrency }));
    }
  }
  process.stderr.write(process.stderr.isTTY ? '\n' : `${label}: ${rounds} rounds done\n`);
  return Object.fromEntries(targets.map((t) => [t.name, summarizeFetch(slices[t.name], t.cpuNames ?? [])]));
}

/** Fetch-loop slices of one target, merged; `cpuNames` names the target's pids in order. */
export function summarizeFetch(slices, cpuNames) {
  const sum = (f) => slices.reduce((a, s) => a + f(s), 0);
  const samples = new Samples();
  for (const s of slices) samples.append(s.samples);
  const ok = sum((s) => s.ok);
  const elapsedS = sum((s) => s.elapsedS);
  const [p50, p99] = samples.percentiles(50, 99);
  const cpu = {};
  cpuNames.forEach((name, i) => {
    const used = slices.some((s) => s.processS[i] === null) ? null : sum((s) => s.processS[i]);
    cpu[`${name}CpuUsPer`] = used === null || !ok ? null : round((used / ok) * 1e6, 0);
  });
  const othersS = slices.some((s) => s.othersS === null) ? null : sum((s) => s.othersS);
  return {
    perSecond: round(ok / elapsedS, 0),
    roundsPerSecond: slices.map((s) => round(s.ok / s.elapsedS, 0)),
    ok,
    failed: sum((s) => s.failed),
    firstFailure: slices.find((s) => s.firstFailure)?.firstFailure ?? null,
    p50Ms: round(p50, 2),
    p99Ms: round(p99, 2),
    ...cpu,
    clientCpuUsPer: ok ? round((sum((s) => s.clientS) / ok) * 1e6, 0) : null,
    /** Everything else on the machine (PostgreSQL among it), µs of CPU per answer. */
    othersCpuUsPer: othersS === null || !ok ? null : round((othersS / ok) * 1e6, 0),
    seconds: round(elapsedS, 3),
  };
}
