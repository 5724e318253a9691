// The database floor of webhook delivery: Gatehouse's own statements (accept, claim, record) run
// back to back on one connection in batches of BATCH_EVENTS events × 4 endpoints, with no HTTP, no
// signing, no other process on the database. It is the most deliveries a second this design can
// reach on this machine's PostgreSQL, whatever the rest of Gatehouse does. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { here, round } from './lib.mjs';

const root = join(here, '..');
const BATCH_EVENTS = 100;
const ENDPOINTS = 4;

export async function databaseFloor(adminUrl, deliveries) {
  const name = `gatehouse_floor_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  try {
    execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'migrate'], { env: { ...process.env, DATABASE_URL: url, GATEHOUSE_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    return await run(url, deliveries);
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function run(url, deliveries) {
  const { connectDatabase } = await import(join(root, 'dist', 'db', 'connect.js'));
  const { publishMany } = await import(join(root, 'dist', 'modules', 'webhooks', 'publish.js'));
  const { claimDeliveries } = await import(join(root, 'dist', 'modules', 'webhooks', 'queue.js'));
  const { createAttemptRecorder } = await import(join(root, 'dist', 'modules', 'webhooks', 'record.js'));
  const database = await connectDatabase({ kind: 'postgres', url }, pino({ level: 'warn' }));
  const { db } = database;
  try {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`insert into organizations (id, name, plan) values ('org_floor', 'floor', 'enterprise')`);
    await c.query(`insert into workspaces (id, organization_id, name) values ('ws_floor', 'org_floor', 'floor')`);
    for (let i = 0; i < ENDPOINTS; i++) {
      await c.query(`insert into webhook_endpoints (id, workspace_id, url, events, max_in_flight) values ($1, 'ws_floor', $2, '{lead.created}', 100)`, [`ep_floor_${i}`, `https://receiver.example/ep${i}`]);
    }
    await c.end();
    const recorder = createAttemptRecorder(db, 'floor', 5 * 86_400);
    const events = Array.from({ length: BATCH_EVENTS }, () => ({ workspaceId: 'ws_floor', type: 'lead.created', payload: { lead_id: 123456, email: 'someone@example.com' } }));
    let done = 0;
    const t0 = performance.now();
    while (done < deliveries) {
      await publishMany(db, events);
      const claimed = await claimDeliveries(db, 'floor', BATCH_EVENTS * ENDPOINTS, 30_000, { reclaim: false, probe: false });
      await Promise.all(claimed.map((d) => recorder.record({
        deliveryId: d.id, workspaceId: d.workspace_id, endpointId: d.endpoint_id, eventId: d.event_id, attempt: d.attempts, url: d.url,
        requestHeaders: { 'content-type': 'application/json', 'webhook-id': d.event_id, 'webhook-signature': '[redacted]' },
        status: 200, responseBody: '', durationMs: 1, error: null, outcome: 'succeeded', nextAttemptAt: null,
      })));
      done += claimed.length;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { deliveries: done, seconds: round(seconds, 3), perSecond: round(done / seconds, 0), batch: BATCH_EVENTS * ENDPOINTS };
  } finally {
    await db.destroy();
  }
}
