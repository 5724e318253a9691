import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { describeMigration, listMigrations, migrate, pendingMigrations, splitStatements } from '../../src/db/migrate.js';
import { createLogger } from '../../src/lib/logger.js';
import { createDeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createServices } from '../../src/services.js';
import { CLI, runCli } from '../helpers/cli.js';
import { createEmptyPgDatabase, TEST_DB } from '../helpers/db.js';
import { buildPreviousRelease, type PreviousRelease } from '../helpers/previous-release.js';
import { startReceiver } from '../helpers/webhooks.js';

// Expand/contract: the migrations of release N+1 only add, so release N keeps working on the new
// schema while they are applied and while the two releases serve side by side. Release N is the
// real previous code, compiled from git, not a copy kept for the test.

const SLOW = 240_000;

/** Statements that break a running version still reading or writing what they change. */
const CONTRACT_STEPS: Array<[RegExp, string]> = [
  [/\bDROP\s+(TABLE|COLUMN|VIEW|FUNCTION|TRIGGER|TYPE|CONSTRAINT|INDEX)\b/i, 'drops what a running version may use'],
  [/\bRENAME\b/i, 'renames what a running version refers to'],
  [/\bALTER\s+COLUMN\b.*\bTYPE\b/i, "changes a column's type under a running version"],
  [/\bSET\s+NOT\s+NULL\b/i, 'makes a column required that a running version may leave empty'],
  // A trigger `BEFORE TRUNCATE ON t` refuses truncation; only the statement itself removes rows.
  [/^\s*TRUNCATE\b|\bDELETE\s+FROM\b/i, 'removes rows a running version may still read'],
];

/** Why a statement is not expand-only, or null. `-- contract: <why>` above it marks a deliberate step. */
function contractStep(statement: { text: string; comments: string }): string | null {
  if (/\bcontract:/i.test(statement.comments)) return null;
  for (const [pattern, why] of CONTRACT_STEPS) if (pattern.test(statement.text)) return why;
  // A new required column without a default: the previous version's inserts do not name it.
  if (/\bADD\s+COLUMN\b/i.test(statement.text) && /\bNOT\s+NULL\b/i.test(statement.text) && !/\bDEFAULT\b/i.test(statement.text)) {
    return 'adds a required column without a default, which inserts of a running version lack';
  }
  return null;
}

describe('migrations are expand-only', () => {
  test('every migration after the first only adds (or marks its contract step with `-- contract:`)', () => {
    const found = listMigrations()
      .filter((m) => m.id > 1)
      .flatMap((m) => splitStatements(m.script).map((s) => ({ migration: m.name, statement: s.text, why: contractStep(s) })))
      .filter((f) => f.why !== null);
    expect(found).toEqual([]);
  });

  test('the check catches each kind of contract step, and lets a marked one through', () => {
    const bad = [
      'ALTER TABLE events DROP COLUMN payload;',
      'DROP TABLE sessions;',
      'ALTER TABLE events RENAME COLUMN payload TO body;',
      'ALTER TABLE jobs ALTER COLUMN attempts TYPE bigint;',
      'ALTER TABLE events ALTER COLUMN trace_parent SET NOT NULL;',
      'ALTER TABLE events ADD COLUMN source text NOT NULL;',
      'TRUNCATE TABLE jobs;',
    ];
    for (const script of bad) expect(splitStatements(script).map(contractStep), script).not.toEqual([null]);
    const fine = ['ALTER TABLE events ADD COLUMN source text NOT NULL DEFAULT \'api\';', '-- contract: 008 stopped reading it\nALTER TABLE events DROP COLUMN old;',
      'CREATE TRIGGER t_no_truncate BEFORE TRUNCATE ON t FOR EACH STATEMENT EXECUTE FUNCTION refuse();'];
    for (const script of fine) expect(splitStatements(script).map(contractStep), script).toEqual([null]);
  });
});

/** One running release: its app (answering through inject), its delivery worker, the errors it logged. */
interface Release {
  name: string;
  app: FastifyInstance;
  errors: string[];
  stop(): Promise<void>;
}

const logSink = (errors: string[]) =>
  new Writable({
    write(chunk, _enc, done) {
      if (/"level":(50|60)/.test(chunk.toString())) errors.push(chunk.toString());
      done();
    },
  });

describe('online upgrade from the previous release', () => {
  let prev: PreviousRelease;
  let pgUrl: string | undefined;
  let dropPg: (() => Promise<void>) | undefined;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
    prev = buildPreviousRelease();
    if (TEST_DB === 'postgres') ({ url: pgUrl, drop: dropPg } = await createEmptyPgDatabase());
  }, SLOW);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await dropPg?.();
    prev?.remove();
  }, SLOW);

  test('release N serves without a failure while N+1 migrates, then both serve side by side on one database', async () => {
    const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
    const env = { GATEHOUSE_MASTER_KEYS: masterKeys, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true', GATEHOUSE_LOG_LEVEL: 'info', GATEHOUSE_CREDENTIAL_CACHE_MS: '0' };
    // Release N's own modules, compiled from its commit: its code, its schema, its queries.
    const from = (file: string) => import(join(prev.dist, file));
    const old = {
      connect: (await from('db/connect.js')).connectDatabase as typeof connectDatabase,
      migrate: (await from('db/migrate.js')).migrate as typeof migrate,
      loadConfig: (await from('config.js')).loadConfig as typeof loadConfig,
      createLogger: (await from('lib/logger.js')).createLogger as typeof createLogger,
      createServices: (await from('services.js')).createServices as typeof createServices,
      buildApp: (await from('app.js')).buildApp as typeof buildApp,
      createDeliveryWorker: (await from('modules/webhooks/deliver.js')).createDeliveryWorker as typeof createDeliveryWorker,
    };
    const target = pgUrl ? ({ kind: 'postgres', url: pgUrl } as const) : ({ kind: 'pglite' } as const);
    const silent = createLogger('silent');
    // PGlite is one process's database: the releases share its one instance. PostgreSQL: each its own pool.
    const shared = TEST_DB === 'pglite' ? await old.connect(target, silent) : undefined;
    if (shared) cleanups.push(() => shared.close());

    async function start(name: string, code: typeof old, database: Database) {
      const errors: string[] = [];
      const config = code.loadConfig(env);
      const log = code.createLogger('info', logSink(errors));
      const services = await code.createServices(config, database, log);
      const app = await code.buildApp(services);
      await app.ready();
      const deliveries = code.createDeliveryWorker({ database, ring: services.ring, log, metrics: services.webhookMetrics, concurrency: 4,
        retryScheduleS: config.webhookRetryScheduleS, disableAfterS: config.webhookDisableAfterS, allowPrivateTargets: true });
      await deliveries.start();
      const release: Release = { name, app, errors, stop: async () => {
        await app.close();
        await deliveries.stop();
        await services.close();
        if (!shared) await database.close();
      } };
      cleanups.push(() => release.stop());
      return { release, bootstrapKey: await services.apiKeys.bootstrapPlatformKey() };
    }

    // Release N opens an empty database and migrates it with what it ships: schema N.
    const oldDb = shared ?? (await old.connect(target, silent));
    await old.migrate(oldDb);
    const { release: releaseN, bootstrapKey } = await start(`N (${prev.commit.slice(0, 7)})`, old, oldDb);
    const adminKey = bootstrapKey!;
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());

    const call = async (r: Release, key: string, method: 'GET' | 'POST' | 'PUT', url: string, body?: object) => {
      const res = await r.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body ? { payload: body } : {}) });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
    };
    const expectStatus = async (r: Release, step: string, status: number, pending: ReturnType<typeof call>) => {
      const res = await pending;
      if (res.status !== status) throw new Error(`${r.name}: ${step} answered ${res.status}, not ${status}: ${res.raw.slice(0, 300)}`);
      return res.body;
    };

    // Seeded through N: an organization, a workspace with a key, an event type and an endpoint taking it.
    const org = await expectStatus(releaseN, 'create organization', 201, call(releaseN, adminKey, 'POST', '/v1/organizations', { name: 'upgrade', plan: 'starter' }));
    const seedWs = await expectStatus(releaseN, 'create workspace', 201, call(releaseN, adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: 'seed' }));
    const seedKey = (await expectStatus(releaseN, 'create key', 201, call(releaseN, adminKey, 'POST', `/v1/workspaces/${seedWs.id}/api-keys`, { name: 'seed', scopes: ['*'] }))).key;
    await expectStatus(releaseN, 'register event type', 201, call(releaseN, seedKey, 'POST', `/v1/workspaces/${seedWs.id}/event-types`, { name: 'order.created' }));
    await expectStatus(releaseN, 'create endpoint', 201, call(releaseN, seedKey, 'POST', `/v1/workspaces/${seedWs.id}/webhooks`, { url: receiver.url, events: ['order.*'] }));

    // One round of what a tenant does: a workspace, a key for it, that key verified, a credential, an event.
    const created = { workspaces: [] as string[], keys: [] as string[], events: [] as string[] };
    async function round(r: Release, n: number) {
      const tag = `${r.name.slice(0, 3).trim()}-${n}`;
      const ws = await expectStatus(r, 'create workspace', 201, call(r, adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: `ws-${tag}` }));
      created.workspaces.push(ws.id);
      const key = (await expectStatus(r, 'create key', 201, call(r, adminKey, 'POST', `/v1/workspaces/${ws.id}/api-keys`, { name: tag, scopes: ['*'] }))).key;
      created.keys.push(key);
      const verified = await expectStatus(r, 'verify key', 200, call(r, adminKey, 'POST', '/v1/keys/verify', { key }));
      if (!verified.valid) throw new Error(`${r.name}: a key just created does not verify: ${JSON.stringify(verified)}`);
      await expectStatus(r, 'store credential', 200, call(r, key, 'PUT', `/v1/workspaces/${ws.id}/credentials/twilio`, { account_sid: `AC${tag}`, auth_token: `token-${tag}` }));
      await expectStatus(r, 'list credentials', 200, call(r, key, 'GET', `/v1/workspaces/${ws.id}/credentials`));
      const event = await expectStatus(r, 'accept event', 202, call(r, seedKey, 'POST', `/v1/workspaces/${seedWs.id}/events`, { type: 'order.created', payload: { tag } }));
      created.events.push(event.event_id);
    }

    // Each release sends rounds one after another until stopped; a failed round is recorded, never thrown.
    const failures: string[] = [];
    let inFlight = 0;
    function traffic(r: Release) {
      let stopped = false;
      let attempts = 0;
      const loop = (async () => {
        while (!stopped) {
          inFlight++;
          try {
            await round(r, attempts);
          } catch (err) {
            failures.push((err as Error).message);
          } finally {
            inFlight--;
            attempts++;
          }
        }
      })();
      const stop = async () => ((stopped = true), await loop);
      // Stopped before its release (cleanups run newest first) when the test fails midway: against a
      // closed app every round fails at once, a loop that would starve the event loop.
      cleanups.push(stop);
      return { attempts: () => attempts, stop };
    }
    // Waits for a count or a state, never for a time: a slow machine takes longer, it does not fail.
    const until = async (ready: () => boolean | Promise<boolean>) => {
      while (!(await ready())) await new Promise((r) => setTimeout(r, 10));
    };
    const appliedNames = async () =>
      (await sql<{ name: string }>`select name from gatehouse_migrations order by id`.execute(oldDb.db)).rows.map((r) => r.name);

    const trafficN = traffic(releaseN);
    await until(() => trafficN.attempts() >= 3);

    // The dry run names exactly the new migrations and changes nothing, under traffic.
    const newMigrations = listMigrations().map((m) => m.name).filter((name) => !prev.migrations.includes(name));
    expect(newMigrations.length, 'the newest migration is the one the previous release lacks').toBeGreaterThan(0);
    const dryRun = pgUrl
      ? (await runCli(['migrate', '--dry-run'], { DATABASE_URL: pgUrl })).stdout
      : (await pendingMigrations(shared!)).map(describeMigration).join('\n');
    expect(dryRun.match(/^would apply \S+?(?=[:\s])/gm)).toEqual(newMigrations.map((name) => `would apply ${name}`));
    expect(await appliedNames()).toEqual(prev.migrations);

    // N+1's migrations, applied while N is answering: by the CLI on PostgreSQL (another process), in
    // this process on PGlite (whose database one process holds).
    await until(() => inFlight > 0);
    const before = trafficN.attempts();
    if (pgUrl) {
      const run = await runCli(['migrate'], { DATABASE_URL: pgUrl });
      expect(run.code, run.stderr).toBe(0);
    } else {
      await migrate(shared!);
    }
    expect(await appliedNames()).toEqual(listMigrations().map((m) => m.name));

    // N+1 starts on the same database and both serve.
    const current = { connect: connectDatabase, migrate, loadConfig, createLogger, createServices, buildApp, createDeliveryWorker };
    const { release: releaseN1 } = await start('N+1', current, shared ?? (await connectDatabase(target, silent)));
    const trafficN1 = traffic(releaseN1);
    const after = trafficN.attempts();
    await until(() => trafficN.attempts() >= after + 5 && trafficN1.attempts() >= 5);
    await Promise.all([trafficN.stop(), trafficN1.stop()]);

    // Every event accepted by either release is delivered, by either release's worker.
    const undelivered = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where status <> 'succeeded'`.execute(oldDb.db)).rows[0]!.n;
    await until(async () => (await undelivered()) === 0);

    // The logged errors first: they say why a request failed.
    expect([...releaseN.errors, ...releaseN1.errors], 'errors either release logged').toEqual([]);
    expect(failures, 'requests that failed during or after the upgrade').toEqual([]);
    expect(before, 'release N answered before the migration').toBeGreaterThan(0);
    expect(trafficN.attempts() - after, 'release N answered after the migration').toBeGreaterThanOrEqual(5);

    // Nothing lost: what either release created is there, and a key N issued verifies on N+1.
    const db = oldDb.db;
    expect(Number((await db.selectFrom('workspaces').select((eb) => eb.fn.countAll().as('n')).where('id', 'in', created.workspaces).executeTakeFirstOrThrow()).n)).toBe(created.workspaces.length);
    expect(Number((await db.selectFrom('credentials').select((eb) => eb.fn.countAll().as('n')).where('workspace_id', 'in', created.workspaces).executeTakeFirstOrThrow()).n)).toBe(created.workspaces.length);
    expect(Number((await db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).where('id', 'in', created.events).executeTakeFirstOrThrow()).n)).toBe(created.events.length);
    for (const key of created.keys) {
      const verified = await expectStatus(releaseN1, 'verify a key N issued', 200, call(releaseN1, adminKey, 'POST', '/v1/keys/verify', { key }));
      expect(verified.valid).toBe(true);
    }
  }, SLOW);
});
