import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { startProcess } from '../../src/runtime.js';
import { createEmptyPgDatabase, TEST_DB } from '../helpers/db.js';

// GATEHOUSE_METRICS_ADDR: /metrics on a listener of its own, so operators can keep it off the
// public port; the API's port (and a worker's probe port) then answer 404 for it. Unset, the API
// serves /metrics itself (test/system/ops-metrics.test.ts).
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function start(env: Record<string, string>, opts: { api: boolean; worker: boolean }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = TEST_DB === 'postgres' ? await createEmptyPgDatabase() : undefined;
  if (db) cleanups.push(() => db.drop());
  const config = loadConfig({
    GATEHOUSE_HOST: '127.0.0.1',
    GATEHOUSE_PORT: '0',
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_MASTER_KEYS: `v1:${randomBytes(32).toString('base64')}`,
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  const running = await startProcess(config, createLogger('silent'), opts);
  cleanups.push(() => running.stop());
  return running;
}
const urlOf = (server: FastifyInstance | undefined) => `http://127.0.0.1:${(server!.server.address() as AddressInfo).port}`;

describe('GATEHOUSE_METRICS_ADDR', () => {
  test('set: /metrics answers on its address and not on the API port, which keeps its health routes', async () => {
    const p = await start({ GATEHOUSE_METRICS_ADDR: '127.0.0.1:0' }, { api: true, worker: false });
    const scrape = await fetch(`${urlOf(p.metricsServer)}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('gatehouse_http_request_duration_seconds');
    expect((await fetch(`${urlOf(p.app)}/metrics`)).status).toBe(404);
    expect((await fetch(`${urlOf(p.app)}/healthz`)).status).toBe(200);
    // The metrics listener serves nothing else.
    expect((await fetch(`${urlOf(p.metricsServer)}/healthz`)).status).toBe(404);
    expect((await fetch(`${urlOf(p.metricsServer)}/v1/workspaces`)).status).toBe(404);
  });

  test("set on a worker: its probe port keeps /healthz and /readyz, and /metrics moves to the metrics address", async () => {
    const p = await start({ GATEHOUSE_METRICS_ADDR: '127.0.0.1:0', GATEHOUSE_WORKER_PORT: '0' }, { api: false, worker: true });
    expect((await fetch(`${urlOf(p.app)}/readyz`)).status).toBe(200);
    expect((await fetch(`${urlOf(p.app)}/metrics`)).status).toBe(404);
    expect((await fetch(`${urlOf(p.metricsServer)}/metrics`)).status).toBe(200);
  });

  test('a value that is not host:port is refused at start, naming the variable', () => {
    for (const bad of ['9464', 'localhost', 'http://127.0.0.1:9464', '127.0.0.1:99999']) {
      expect(() => loadConfig({ GATEHOUSE_METRICS_ADDR: bad }), bad).toThrow(/GATEHOUSE_METRICS_ADDR/);
    }
    expect(loadConfig({ GATEHOUSE_METRICS_ADDR: '[::1]:9464' }).metricsAddr).toEqual({ host: '::1', port: 9464 });
  });
});
