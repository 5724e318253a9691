import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createEmptyPgDatabase, TEST_DB } from '../helpers/db.js';
import { startGatehouse, type GatehouseProcess } from '../helpers/processes.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { eventually, startReceiver } from '../helpers/webhooks.js';

// A real `gatehouse serve` whose PostgreSQL and Redis are reached through loopback forwarders:
// cutting a forwarder is, for the process, the server going away (every connection reset, new ones
// refused), without disturbing the shared servers other test files use at the same time.
// PGlite lives inside the process and cannot become unreachable, so this runs on PostgreSQL.
const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
const REDIS_PORT = Number(new URL(process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);

describe.runIf(TEST_DB === 'postgres')('degradation, not failure', () => {
  let db: Awaited<ReturnType<typeof createEmptyPgDatabase>>;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let gh: GatehouseProcess;
  let direct: pg.Client;
  let adminKey: string;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let wsId: string;
  let orgId: string;

  const call = async (method: string, path: string, body?: unknown, key = adminKey) => {
    const res = await fetch(`${gh.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const raw = await res.text();
    return { status: res.status, headers: res.headers, raw, body: raw ? JSON.parse(raw) : undefined };
  };
  const metric = async (name: string) => {
    const text = await fetch(`${gh.url}/metrics`).then((r) => r.text());
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : undefined;
  };

  beforeAll(async () => {
    db = await createEmptyPgDatabase();
    pgProxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    redisProxy = await startTcpProxy(REDIS_PORT);
    const viaProxy = new URL(db.url);
    viaProxy.port = String(pgProxy.port);
    const made = await runCli(['admin', 'create-key', '--name', 'degradation'], { DATABASE_URL: db.url, GATEHOUSE_MASTER_KEYS: masterKeys });
    adminKey = made.stdout.trim().split('\n').pop()!;
    expect(adminKey, made.stderr).toMatch(/^gate_live_/);
    direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    rx = await startReceiver();
    gh = await startGatehouse('all', {
      DATABASE_URL: viaProxy.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      GATEHOUSE_MASTER_KEYS: masterKeys,
      GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
      GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0.2,0.5,1,2,2,2,2,2',
      // A key stays cached for ten minutes: only the NOTIFY can make this process drop it sooner.
      GATEHOUSE_KEY_CACHE_TTL_MS: '600000',
      GATEHOUSE_LOG_LEVEL: 'info',
    });
    await gh.ready();
    const org = await call('POST', '/v1/organizations', { name: 'degrade', plan: 'starter' });
    expect(org.status, org.raw).toBe(201);
    orgId = org.body.id;
    const ws = await call('POST', `/v1/organizations/${orgId}/workspaces`, { name: 'degrade' });
    expect(ws.status, ws.raw).toBe(201);
    wsId = ws.body.id;
  }, 120_000);

  afterAll(async () => {
    await gh?.kill('SIGKILL');
    await rx?.close();
    await direct?.end();
    await pgProxy?.close();
    await redisProxy?.close();
    await db?.drop();
  });

  test('PostgreSQL unreachable: /readyz 503, writes 503 unavailable with Retry-After, nothing half-written; back without a restart', async () => {
    const victim = await call('POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'victim', scopes: ['*'] });
    expect(victim.status, victim.raw).toBe(201);
    expect((await call('GET', `/v1/workspaces/${wsId}`, undefined, victim.body.key)).status).toBe(200); // cached now

    pgProxy.cut();
    await eventually(async () => (await fetch(`${gh.url}/readyz`)).status === 503, 15_000, 100);
    expect((await fetch(`${gh.url}/healthz`)).status).toBe(200);

    const during = await call('POST', `/v1/workspaces/${wsId}/events`, { type: 'lead.created', payload: { n: 1 }, idempotency_key: 'outage-1' });
    expect(during.status, during.raw).toBe(503);
    expect(during.body.error.code).toBe('unavailable');
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(during.raw).not.toMatch(/ at .*\.js:\d+|gate_live_|postgres:\/\//);
    const write = await call('POST', `/v1/organizations/${orgId}/workspaces`, { name: 'during-outage' });
    expect(write.status, write.raw).toBe(503);
    expect(write.body.error.code).toBe('unavailable');
    // Nothing half-written: neither request left a row behind.
    // The worker loops warn once per outage, not once per retry.
    const claimWarnings = () => gh.output().match(/could not claim webhook deliveries/g)?.length ?? 0;
    await eventually(async () => claimWarnings() === 1, 15_000, 100);
    // /metrics answers through the outage, counting each failed claim: two more polls, both failing.
    const failedClaims = () => metric('gatehouse_queue_claim_failures_total{queue="deliveries"}');
    const failedAtWarning = (await failedClaims()) ?? 0;
    expect(failedAtWarning).toBeGreaterThan(0);
    await eventually(async () => ((await failedClaims()) ?? 0) >= failedAtWarning + 2, 15_000, 100);
    expect(claimWarnings()).toBe(1);
    const left = await direct.query(`select (select count(*) from events where idempotency_key = 'outage-1')::int as events,
      (select count(*) from workspaces where name = 'during-outage')::int as workspaces`);
    expect(left.rows[0]).toEqual({ events: 0, workspaces: 0 });

    pgProxy.restore();
    await eventually(async () => (await fetch(`${gh.url}/readyz`)).status === 200, 30_000, 100);

    // The same process, not restarted: the pool reconnected and the worker loop resumed.
    await eventually(async () => /claiming webhook deliveries again/.test(gh.output()), 15_000, 100);
    const ep = await call('POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${rx.url}/after`, events: ['lead.created'] });
    expect(ep.status, ep.raw).toBe(201);
    const again = await call('POST', `/v1/workspaces/${wsId}/events`, { type: 'lead.created', payload: { n: 1 }, idempotency_key: 'outage-1' });
    expect(again.status, again.raw).toBe(202);
    await eventually(async () => rx.received.some((r) => r.headers['webhook-id'] === again.body.event_id), 30_000, 100);
    const stored = await direct.query(`select count(*)::int as n from events where idempotency_key = 'outage-1'`);
    expect(stored.rows[0].n).toBe(1);

    // LISTEN was re-established: a revoke made by another process (here: straight in the database,
    // with the NOTIFY every process sends) reaches this process's cache within a second.
    await eventually(async () => /LISTEN connection re-established/.test(gh.output()), 15_000, 100);
    expect((await call('GET', `/v1/workspaces/${wsId}`, undefined, victim.body.key)).status).toBe(200);
    await direct.query(`update api_keys set revoked_at = now(), revoked_reason = 'test' where id = $1`, [victim.body.id]);
    await direct.query(`select pg_notify('gatehouse_keys', $1)`, [victim.body.id]);
    const revokedAt = Date.now();
    await eventually(async () => (await call('GET', `/v1/workspaces/${wsId}`, undefined, victim.body.key)).status === 401, 5_000, 20);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  }, 120_000);

  test('Redis unreachable: limits count in process memory with a warning and a metric, then return to Redis by themselves', async () => {
    const limited = async () => {
      const k = await call('POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'limited', scopes: ['*'], rate_limit: { limit: 3, window_s: 60 } });
      expect(k.status, k.raw).toBe(201);
      return k.body as { id: string; key: string };
    };
    expect(await metric('gatehouse_ratelimit_redis_up')).toBe(1);
    redisProxy.cut();
    await eventually(async () => (await metric('gatehouse_ratelimit_redis_up')) === 0, 15_000, 100);

    const k1 = await limited();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('GET', `/v1/workspaces/${wsId}`, undefined, k1.key)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await metric('gatehouse_ratelimit_fallback_total')).toBeGreaterThanOrEqual(4);
    const warnings = gh.output().match(/rate limits fall back to process memory/g) ?? [];
    expect(warnings).toHaveLength(1); // once per outage, not once per reconnect attempt

    redisProxy.restore();
    await eventually(async () => (await metric('gatehouse_ratelimit_redis_up')) === 1, 15_000, 100);
    expect(gh.output()).toMatch(/redis reachable again/);

    // Counting is in Redis again: a new key's window appears there.
    const k2 = await limited();
    expect((await call('GET', `/v1/workspaces/${wsId}`, undefined, k2.key)).status).toBe(200);
    const redis = new Redis(REDIS_PORT, '127.0.0.1');
    try {
      const keys = await redis.keys(`gh:rl:3/60:${k2.id}`);
      expect(keys).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
