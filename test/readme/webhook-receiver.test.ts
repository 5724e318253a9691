import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker } from '../helpers/webhooks.js';

// The README's receiver, run as written (only its port is changed), verifies a real delivery with
// the standardwebhooks package and prints it.
const root = new URL('../../', import.meta.url).pathname;
let t: TestApp;
let worker: DeliveryWorker;
let receiver: ChildProcess | undefined;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  t = await createTestApp();
  worker = await startDeliveryWorker(t, { pollMs: 100 });
});
afterAll(async () => {
  receiver?.kill('SIGKILL');
  await worker?.stop();
  await t?.close();
});

test("the README's webhook receiver verifies a real delivery", async () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.split('### Webhooks: send an event, verify it in a receiver')[1];
  const code = section.split('```js\n')[1].split('```')[0];
  expect(code).toContain('.listen(3000)');
  const port = await freePort();

  const { workspace } = await seedWorkspace(t);
  const ep = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `http://127.0.0.1:${port}/hooks/gatehouse`, events: ['lead.*'] });
  expect(ep.status, ep.raw).toBe(201);

  let out = '';
  receiver = spawn(process.execPath, ['--input-type=module', '-e', code.replace('.listen(3000)', `.listen(${port})`)], {
    cwd: root,
    env: { ...process.env, GATEHOUSE_WEBHOOK_SECRET: ep.body.secret },
  });
  receiver.stdout!.on('data', (d) => (out += d));
  receiver.stderr!.on('data', (d) => (out += d));
  await eventually(async () => {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
      return true;
    } catch {
      return false;
    }
  });

  const sent = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/events`, { type: 'lead.replied', payload: { lead_id: 42 }, idempotency_key: 'reply-42' });
  expect(sent.status, sent.raw).toBe(202);
  await eventually(async () => out.includes(sent.body.event_id));
  expect(out).toMatch(new RegExp(`${sent.body.event_id} lead.replied \\{ lead_id: 42 \\}`));
  // The receiver prints before the worker has recorded its answer.
  const delivery = await eventually(async () => {
    const d = (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.body.id}/deliveries`)).body.data[0];
    return d?.status === 'succeeded' ? d : null;
  });
  expect(delivery.last_status).toBe(204);
});
