import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runCli } from '../helpers/cli.js';
import { createEmptyPgDatabase } from '../helpers/db.js';
import { sleep } from '../helpers/processes.js';
import { startCluster, type Cluster, type Slot } from './cluster.js';
import { forwardedOutages, serverOutages } from './faults.js';
import { callApi, sendEvents, sendInbound, type LoadStats } from './load.js';
import { startChaosReceiver, type Behaviour, type ChaosReceiver } from './receivers.js';

export interface ChaosOptions {
  events: number;
  ratePerS: number;
  concurrency: number;
  inbound: number;
  apis: number;
  workers: number;
  /** forwarded: outages cut loopback forwarders (inside `npm test`); server: the real servers restart. */
  outages: 'forwarded' | 'server';
  outageMs: number;
  /** How long the down-then-up receiver refuses connections, from the start of the load. */
  receiverDownMs: number;
  /** How long to wait, after the load, for every accepted event to arrive. */
  drainMs: number;
  redisUrl: string;
  log: (line: string) => void;
}

export interface ChaosReport {
  accepted: number;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  redeliveries: number;
  maxDelayMs: number;
  /** The fast receiver's delays: p50, p99 and max (ms), from the caller's 2xx to the first 2xx delivery. */
  fastDelayMs: { p50: number; p99: number; max: number };
  /** From the end of the load until the last expected delivery arrived. */
  drainSeconds: number;
  inboundAccepted: number;
  inboundStored: number;
  revocationMs: number;
  refused: number;
  badSignatures: number;
  faults: string[];
  loadSeconds: number;
  acceptedPerS: number;
  exits: Array<{ role: string; code: number | null; signal: string | null }>;
  outputs: string[];
}

// Which receivers subscribe to which type: two per event, the slow one only to the rare type. The
// fast one takes every event, so it is allowed 16 requests in flight (the default 4 would cap it
// near 4 ÷ round trip, below the event rate on a loaded machine, and measure that cap instead).
const SUBSCRIPTIONS: Record<Behaviour, { events: string[]; timeout_s?: number; max_in_flight?: number }> = {
  fast: { events: ['lead.created', 'email.sent', 'meeting.booked'], max_in_flight: 16 },
  flaky: { events: ['lead.created'], max_in_flight: 8 },
  slow: { events: ['meeting.booked'], timeout_s: 2, max_in_flight: 16 },
  'down-then-up': { events: ['email.sent'] },
};

/**
 * Runs API and worker processes on one PostgreSQL and one Redis, sends events and inbound webhooks
 * through them while killing processes and taking the servers away, then counts what arrived.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const runId = randomBytes(4).toString('hex');
  const database = await createEmptyPgDatabase();
  const outages = o.outages === 'server' ? serverOutages(database.url, o.redisUrl) : await forwardedOutages(database.url, o.redisUrl, o.outageMs);
  const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
  const made = await runCli(['admin', 'create-key', '--name', 'chaos'], { DATABASE_URL: database.url, GATEHOUSE_MASTER_KEYS: masterKeys });
  const adminKey = made.stdout.trim().split('\n').pop()!;
  if (!adminKey.startsWith('gate_live_')) throw new Error(`admin create-key failed: ${made.stderr}`);
  const receivers = await Promise.all((Object.keys(SUBSCRIPTIONS) as Behaviour[]).map(startChaosReceiver));
  const cluster = await startCluster({
    DATABASE_URL: outages.databaseUrl,
    REDIS_URL: outages.redisUrl,
    GATEHOUSE_MASTER_KEYS: masterKeys,
    GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
    GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '1,2,5,10,20,30,30,30',
  }, o.apis, o.workers);
  o.log(`${o.apis} API and ${o.workers} worker processes ready`);
  try {
    const setup = await configure(cluster, adminKey, receivers);
    const stats: LoadStats = { sent: 0, accepted: new Map(), refused: [], retries: 0 };
    const faults: string[] = [];
    let revocationMs = NaN;
    const loadStarted = Date.now();
    // Which process dies, and exactly when, is drawn at random each run; the kinds of fault and
    // their order are fixed, so every run injects every one of them.
    const pick = (slots: Slot[]) => slots[Math.floor(Math.random() * slots.length)];
    const kill = (slots: Slot[], label: string) => {
      const slot = pick(slots);
      return [`SIGKILL ${label} ${slots.indexOf(slot) + 1}`, () => cluster.killAndRestart(slot)] as const;
    };
    const jitter = () => (Math.random() - 0.5) * 0.04;
    const killWorker = kill(cluster.workers, 'worker');
    const killApi = kill(cluster.apis, 'API');
    const killBoth = [kill(cluster.workers, 'worker'), kill(cluster.apis, 'API')];
    const killLast = kill(cluster.workers, 'worker');
    const schedule: Array<[number, string, () => Promise<unknown>]> = [
      [0.1 + jitter(), killWorker[0], killWorker[1]],
      [0.2 + jitter(), killApi[0], killApi[1]],
      [0.3 + jitter(), 'PostgreSQL restart', () => outages.restartPostgres()],
      [0.45 + jitter(), 'key revoked', async () => (revocationMs = await revocation(cluster, adminKey, setup.workspaceId))],
      [0.55 + jitter(), 'Redis restart', () => outages.restartRedis()],
      [0.65 + jitter(), `${killBoth[0][0]} and ${killBoth[1][0]}`, () => Promise.all(killBoth.map(([, run]) => run()))],
      [0.8 + jitter(), killLast[0], killLast[1]],
    ];
    const injector = (async () => {
      for (const [at, name, fault] of schedule) {
        while (stats.sent < at * o.events) await sleep(50);
        const t0 = Date.now();
        await fault();
        faults.push(`${name} at ${Math.round((t0 - loadStarted) / 1000)} s (${Date.now() - t0} ms)`);
        o.log(`fault: ${faults[faults.length - 1]}`);
      }
    })();
    const downThenUp = receivers.find((r) => r.behaviour === 'down-then-up')!;
    const upLater = sleep(o.receiverDownMs).then(() => downThenUp.up());
    const [, inbound] = await Promise.all([
      sendEvents({ cluster, key: setup.loadKey, workspaceId: setup.workspaceId, total: o.events, ratePerS: o.ratePerS, concurrency: o.concurrency, runId, stats }),
      sendInbound({ cluster, sourceId: setup.sourceId, secret: setup.sourceSecret, total: o.inbound, ratePerS: (o.inbound * o.ratePerS) / o.events, runId }),
      injector,
      upLater,
    ]);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    o.log(`load done in ${loadSeconds.toFixed(0)} s: ${stats.accepted.size} accepted, ${stats.retries} client retries; waiting for deliveries`);
    await cluster.allReady();

    const expected = () => [...stats.accepted].flatMap(([id, a]) => receivers.filter((r) => SUBSCRIPTIONS[r.behaviour].events.includes(a.type)).map((r) => ({ id, a, r })));
    const missing = () => expected().filter(({ id, r }) => !r.firstDelivered.has(id)).length;
    const drainUntil = Date.now() + o.drainMs;
    while (missing() > 0 && Date.now() < drainUntil) await sleep(500);
    const drainSeconds = (Date.now() - loadStarted) / 1000 - loadSeconds;

    const pairs = expected();
    const delays = (rs: ChaosReceiver[]) => pairs.filter(({ r }) => rs.includes(r)).map(({ id, a, r }) => Math.max(0, (r.firstDelivered.get(id) ?? Date.now()) - a.at));
    const inboundStored = await countInbound(database.url, setup.sourceId);
    const exits = await cluster.stop();
    return {
      accepted: stats.accepted.size,
      expectedDeliveries: pairs.length,
      delivered: pairs.length - missing(),
      lost: missing(),
      redeliveries: receivers.reduce((sum, r) => sum + [...r.delivered.values()].reduce((s, n) => s + n - 1, 0), 0),
      maxDelayMs: Math.max(...delays(receivers)),
      fastDelayMs: percentiles(delays(receivers.filter((r) => r.behaviour === 'fast'))),
      drainSeconds,
      inboundAccepted: inbound.accepted.size,
      inboundStored,
      revocationMs,
      refused: stats.refused.length + inbound.refused.length,
      badSignatures: receivers.reduce((s, r) => s + r.badSignatures, 0),
      faults,
      loadSeconds,
      acceptedPerS: stats.accepted.size / loadSeconds,
      exits,
      outputs: cluster.outputs(),
    };
  } finally {
    await cluster.stop().catch(() => {});
    await Promise.all(receivers.map((r) => r.close()));
    await outages.close();
    await database.drop();
  }
}

/** An organization, a workspace, its load key, one endpoint per receiver and a signed inbound source. */
async function configure(cluster: Cluster, adminKey: string, receivers: ChaosReceiver[]) {
  const api = cluster.apis[0].url;
  const must = async (method: string, path: string, body?: unknown) => {
    const res = await callApi(api, method, path, adminKey, body);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const org = await must('POST', '/v1/organizations', { name: 'chaos', plan: 'enterprise' });
  const ws = await must('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'chaos' });
  const key = await must('POST', `/v1/workspaces/${ws.id}/api-keys`, { name: 'load', scopes: ['*'] });
  for (const r of receivers) {
    const ep = await must('POST', `/v1/workspaces/${ws.id}/webhooks`, { url: r.url, name: r.behaviour, max_retries: 8, ...SUBSCRIPTIONS[r.behaviour] });
    r.secret = ep.secret;
  }
  const source = await must('POST', `/v1/workspaces/${ws.id}/inbound-sources`, { provider: 'standard', name: 'chaos' });
  return { workspaceId: ws.id as string, loadKey: key.key as string, sourceId: source.id as string, sourceSecret: source.secret as string };
}

/**
 * A key used on every API process (so each has it cached) is revoked through one of them; the
 * figure is the time from the revoke's answer until every process refuses the key.
 */
async function revocation(cluster: Cluster, adminKey: string, workspaceId: string): Promise<number> {
  await cluster.allReady();
  const made = await callApi(cluster.apis[0].url, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, adminKey, { name: 'revoked-mid-run', scopes: ['*'] });
  if (made.status !== 201) throw new Error(`could not make the key to revoke: ${made.status}`);
  const probe = (url: string) => callApi(url, 'GET', `/v1/workspaces/${workspaceId}`, made.body.key);
  for (const api of cluster.apis) if ((await probe(api.url)).status !== 200) throw new Error('the new key is not accepted');
  let revoked;
  do revoked = await callApi(cluster.apis[0].url, 'DELETE', `/v1/api-keys/${made.body.id}`, adminKey);
  while (revoked.status === 0 || revoked.status >= 500);
  const at = Date.now();
  // Each process's figure is when the first request it refused was sent: how long that answer then
  // took to come back on a loaded machine is not part of the revocation.
  const refusedAfter = await Promise.all(cluster.apis.map(async (api) => {
    for (;;) {
      const sentAt = Date.now();
      if ((await probe(api.url)).status === 401) return Math.max(0, sentAt - at);
      if (sentAt - at > 30_000) return Infinity;
      await sleep(10);
    }
  }));
  return Math.max(...refusedAfter);
}

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

async function countInbound(url: string, sourceId: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query('select count(*)::int as n from inbound_events where source_id = $1', [sourceId]);
    return r.rows[0].n as number;
  } finally {
    await c.end();
  }
}
