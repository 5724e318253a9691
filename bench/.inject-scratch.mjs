// scratch: JS cost per request without the network, via app.inject — not part of the deliverable
import Fastify from 'fastify';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/lib/logger.js';
import { startProcess } from '../dist/runtime.js';
const cfg = loadConfig({ GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'ghinj-')), GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_PORT: '0', GATEHOUSE_HOST: '127.0.0.1' });
const running = await startProcess(cfg, createLogger('warn'), { api: true, worker: true });
const app = running.app; const boot = running.bootstrapKey;
const j = async (method, url, body, key = boot) => JSON.parse((await app.inject({ method, url, payload: body, headers: { authorization: `Bearer ${key}` } })).body);
const org = await j('POST', '/v1/organizations', { name: 'o' });
const ws = await j('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'w' });
const key = (await j('POST', `/v1/workspaces/${ws.id}/api-keys`, { name: 'k', scopes: ['workspaces:read'] })).key;
const base = Fastify({ logger: false }); base.route({ method: ['GET', 'POST'], url: '/baseline', handler: async () => ({ valid: true, code: 'valid' }) }); await base.ready();
const payload = JSON.stringify({ key });
const run = async (a, url, n) => { const t = process.hrtime.bigint(); const c0 = process.cpuUsage(); for (let i = 0; i < n; i++) { const r = await a.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } }); if (r.statusCode !== 200) throw new Error(r.body); } const cu = process.cpuUsage(c0); return [Number(process.hrtime.bigint() - t) / 1e3 / n, (cu.user + cu.system) / n]; };
for (let round = 0; round < 4; round++) {
  const b = await run(base, '/baseline', 30000); const v = await run(app, '/v1/keys/verify', 30000);
  console.log(`baseline ${b[0].toFixed(1)} µs wall ${b[1].toFixed(1)} µs cpu | verify ${v[0].toFixed(1)} µs wall ${v[1].toFixed(1)} µs cpu | extra cpu ${(v[1]-b[1]).toFixed(1)} µs`);
}
await running.stop(); process.exit(0);
