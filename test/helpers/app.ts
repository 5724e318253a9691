import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestClock, type TestClock } from './clock.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  db: TestDatabase;
  config: Config;
  /** The services' clock: advance it to pass an expiry or a grace instead of waiting. */
  clock: TestClock;
  /** The bootstrap platform admin key. */
  adminKey: string;
  /** Every log line the app wrote, as text: tests search it for leaked secrets. */
  logs: string[];
  /** app.inject with `Authorization: Bearer key` (when a key is given) and a JSON body. */
  call(key: string | null, method: InjectOptions['method'], url: string, body?: unknown): Promise<{ status: number; body: any; headers: Record<string, unknown>; raw: string }>;
  close(): Promise<void>;
}

/**
 * `env` as the service reads it; `tweak` sets parsed values no variable can (a breaker reset of a
 * fraction of a second), so a test waits a moment instead of the shortest a deployment may set.
 */
export async function createTestApp(env: Record<string, string> = {}, tweak: Partial<Config> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const parsed = loadConfig({
    GATEHOUSE_LOG_LEVEL: 'debug',
    GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
    // A fresh master key per app: tests never create a key file in the project folder.
    GATEHOUSE_MASTER_KEYS: `v1:${randomBytes(32).toString('base64')}`,
    GATEHOUSE_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
    ...env,
  });
  const config: Config = { ...parsed, ...tweak };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString());
      // GATEHOUSE_TEST_ECHO_ERRORS=1 shows the app's error lines while debugging a failing test.
      if (process.env.GATEHOUSE_TEST_ECHO_ERRORS && /"level":(50|60)/.test(chunk.toString())) process.stderr.write(chunk.toString());
      done();
    },
  });
  const log = createLogger(config.logLevel, sink);
  const clock = createTestClock();
  const services = await createServices(config, db.database, log, clock);
  const app = await buildApp(services);
  await app.ready();
  const adminKey = (await services.apiKeys.bootstrapPlatformKey())!;
  return {
    app,
    services,
    db,
    config,
    clock,
    adminKey,
    logs,
    async call(key, method, url, body) {
      const res = await app.inject({
        method,
        url,
        headers: key === null ? {} : { authorization: `Bearer ${key}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      let parsed: unknown = undefined;
      try {
        parsed = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        parsed = res.body;
      }
      return { status: res.statusCode, body: parsed, headers: res.headers, raw: res.body };
    },
    async close() {
      await app.close();
      await services.close();
      await db.drop();
    },
  };
}

/** An organization with one workspace, and a workspace key holding `scopes`. */
export async function seedWorkspace(t: TestApp, scopes: string[] = ['*'], name = `ws-${Math.random().toString(36).slice(2, 8)}`) {
  const org = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: `org-${name}`, plan: 'starter' });
  if (org.status !== 201) throw new Error(`seed org failed: ${org.raw}`);
  const ws = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.body.id}/workspaces`, { name });
  if (ws.status !== 201) throw new Error(`seed workspace failed: ${ws.raw}`);
  const key = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/api-keys`, { name: 'seed', scopes });
  if (key.status !== 201) throw new Error(`seed key failed: ${key.raw}`);
  return { org: org.body, workspace: ws.body, key: key.body.key as string, keyId: key.body.id as string };
}
