// bench:webhooks' measurements with the client of issue 19's table (global fetch, 16 requests in
// flight) on both sides of each comparison:
//   endToEnd        events sent to a workspace with ONE subscribed endpoint, from the first accept
//                   until the receiver has every signed POST and every attempt is logged;
//   fetchBaseline   the same signed body POSTed straight to the same receiver;
//   acceptsPhase    POST /v1/workspaces/:id/events against the bare Fastify + one INSERT route
//                   (bench/insert-baseline.mjs), same body, alternating rounds.
// bench:memory reuses setUpWorkspace and endToEnd for its load. See bench/README.md.
import { createHmac } from 'node:crypto';
import { api, cpuMeter, fetchLoop, fetchPhase, round, sleep, summarizeFetch } from './lib.mjs';

export const FETCH_CONCURRENCY = 16;
const WAIT_LIMIT_MS = 600_000;
const wallNow = () => performance.timeOrigin + performance.now();
const getJson = async (url) => (await fetch(url)).json();
export const EVENT_BODY = JSON.stringify({ type: 'lead.created', payload: { lead_id: 123456, email: 'someone@example.com' } });

/** A workspace with `endpoints` ({url, events, enabled?, max_in_flight?}) and a key for events and stats. */
export async function setUpWorkspace(gh, name, endpoints) {
  const admin = (method, path, body) => api(gh.url, gh.bootstrapKey, method, path, body);
  const org = await admin('POST', '/v1/organizations', { name: `${name} org` });
  const ws = await admin('POST', `/v1/organizations/${org.json.id}/workspaces`, { name });
  const made = [];
  for (const ep of endpoints) made.push((await admin('POST', `/v1/workspaces/${ws.json.id}/webhooks`, ep)).json);
  const key = await admin('POST', `/v1/workspaces/${ws.json.id}/api-keys`, { name: `${name} key`, scopes: ['events:write', 'webhooks:read'] });
  return { wsId: ws.json.id, key: key.json.key, endpoints: made.map((e) => ({ id: e.id, secret: e.secret })) };
}

/** The fetch-loop target that sends `EVENT_BODY` to a workspace's events route (Gatehouse's or the baseline's). */
export const eventsTarget = (name, baseUrl, tenant, pids) => ({
  name,
  request: () => [`${baseUrl}/v1/workspaces/${tenant.wsId}/events`, {
    method: 'POST', headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' }, body: EVENT_BODY,
  }],
  status: 202,
  pids,
  cpuNames: ['server'],
});

async function until(what, test) {
  const t0 = performance.now();
  for (;;) {
    const value = await test();
    if (value) return value;
    if (performance.now() - t0 > WAIT_LIMIT_MS) throw new Error(`gave up waiting for ${what} after ${WAIT_LIMIT_MS / 1000} s`);
    await sleep(20);
  }
}

const succeeded = async (gh, tenant) => (await api(gh.url, tenant.key, 'GET', `/v1/webhooks/${tenant.endpoints[0].id}`)).json.stats.succeeded;

/**
 * `n` events to `tenant` (one subscribed endpoint at the receiver), FETCH_CONCURRENCY at a time.
 * The figure runs from the first event sent until the receiver holds n distinct signed messages
 * and the endpoint's stats count n more successes (polled every 20 ms). CPU of Gatehouse and the
 * receiver is read from /proc over the same span, so Gatehouse's µs per delivery include its accept.
 */
export async function endToEnd(gh, tenant, receiver, n) {
  const before = await succeeded(gh, tenant);
  await fetch(`${receiver.url}/reset`, { method: 'POST' });
  const stopMeter = await cpuMeter([gh.proc.pid, receiver.proc.pid]);
  const t0 = wallNow();
  const accepts = await fetchLoop(eventsTarget('gatehouse', gh.url, tenant, []), { n, concurrency: FETCH_CONCURRENCY });
  if (accepts.failed) throw new Error(`${accepts.failed} of ${n} events refused, the first: ${accepts.firstFailure}`);
  const got = await until(`${n} signed POSTs at the receiver`, async () => {
    const c = await getJson(`${receiver.url}/count`);
    return c.distinct >= n && c;
  });
  await until(`${n} attempts logged`, async () => (await succeeded(gh, tenant)) >= before + n);
  const end = wallNow();
  const cpu = await stopMeter();
  const { sample, perQuarterSecond } = await getJson(`${receiver.url}/stats`);
  const seconds = (end - t0) / 1000;
  const acceptSummary = summarizeFetch([accepts], []);
  const per = (s) => (s === null ? null : round((s / n) * 1e6, 0));
  return {
    deliveries: n,
    seconds: round(seconds, 3),
    perSecond: round(n / seconds, 0),
    receivedSeconds: round((got.lastNewAt - t0) / 1000, 3),
    signedPosts: got.signed,
    acceptsPerSecond: acceptSummary.perSecond,
    acceptP50Ms: acceptSummary.p50Ms,
    acceptP99Ms: acceptSummary.p99Ms,
    gatehouseCpuUsPerDelivery: per(cpu.processS[0]),
    receiverCpuUsPerDelivery: per(cpu.processS[1]),
    clientCpuUsPerDelivery: per(cpu.clientS),
    othersCpuUsPerDelivery: per(cpu.othersS),
    perQuarterSecond,
    sample,
  };
}

/** Checks that `sample` (a POST the receiver got) carries a valid Standard Webhooks signature by `secret`. */
export function checkSignature(sample, secret) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const h = sample.headers;
  const expected = createHmac('sha256', key).update(`${h['webhook-id']}.${h['webhook-timestamp']}.${sample.body}`).digest('base64');
  if (!String(h['webhook-signature']).split(' ').includes(`v1,${expected}`)) throw new Error(`the receiver's sample is not signed by the endpoint's secret: ${JSON.stringify(h)}`);
}

/** The baseline of endToEnd: `sample`'s body and headers POSTed straight to the receiver, `n` times, after a warm-up. */
export async function fetchBaseline(receiver, sample, n) {
  const skip = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive']);
  const headers = Object.fromEntries(Object.entries(sample.headers).filter(([k]) => !skip.has(k)));
  const target = {
    name: 'fetch loop',
    request: () => [receiver.url + sample.path, { method: 'POST', headers, body: sample.body }],
    status: 200,
    pids: [receiver.proc.pid],
  };
  await fetchLoop(target, { n: Math.min(200, n), concurrency: FETCH_CONCURRENCY });
  const run = await fetchLoop(target, { n, concurrency: FETCH_CONCURRENCY });
  if (run.failed) throw new Error(`the fetch loop failed ${run.failed} POSTs, the first: ${run.firstFailure}`);
  return summarizeFetch([run], ['receiver']);
}

/**
 * Accepts against the bare INSERT route: `n` requests per target in `rounds` alternating slices,
 * after `warmup` requests each. `tenant`'s workspace should have no enabled endpoint, so no
 * delivery competes with the accepts. Returns {baseline, gatehouse} with `serverCpuUsPer` per accept.
 */
export async function acceptsPhase(gh, tenant, baselineServer, { n, rounds, warmup }) {
  const targets = [
    eventsTarget('baseline', baselineServer.url, tenant, [baselineServer.proc.pid]),
    eventsTarget('gatehouse', gh.url, tenant, [gh.proc.pid]),
  ];
  for (const t of targets) {
    const w = await fetchLoop(t, { n: warmup, concurrency: FETCH_CONCURRENCY });
    if (w.failed) throw new Error(`${t.name}: ${w.failed} of ${warmup} warm-up accepts failed, the first: ${w.firstFailure}`);
  }
  return fetchPhase('postgres: accepts', targets, { n, rounds, concurrency: FETCH_CONCURRENCY });
}
