import { test } from 'vitest';
import { runCli } from '../test/helpers/cli.js';
import { createEmptyPgDatabase } from '../test/helpers/db.js';
import { startGatehouse } from '../test/helpers/processes.js';
import { startTcpProxy } from '../test/helpers/tcp-proxy.js';
test('x', async () => {
  const db = await createEmptyPgDatabase();
  const p = await startTcpProxy(5432);
  const u = new URL(db.url); u.port = String(p.port);
  const mk = 'v1:' + Buffer.alloc(32, 1).toString('base64');
  const gh = await startGatehouse('all', { DATABASE_URL: u.toString(), GATEHOUSE_MASTER_KEYS: mk, GATEHOUSE_LOG_LEVEL: 'info' });
  await gh.ready();
  p.cut();
  await new Promise((r) => setTimeout(r, 3000));
  console.log(gh.output().slice(-5000));
  await gh.kill('SIGKILL');
}, 60000);
