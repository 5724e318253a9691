import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { sleep } from '../helpers/processes.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const run = promisify(execFile);

export interface Outages {
  /** The connection string the Gatehouse processes get (through a forwarder, or the server itself). */
  databaseUrl: string;
  redisUrl: string;
  /** Takes PostgreSQL away and brings it back; resolves once it answers again. */
  restartPostgres(): Promise<void>;
  restartRedis(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Outages for the short run inside `npm test`: the processes reach PostgreSQL and Redis through
 * loopback forwarders, and an outage cuts every connection and refuses new ones for `outageMs`.
 * Other test files share the real servers at the same moment, so those are never restarted here.
 */
export async function forwardedOutages(databaseUrl: string, redisUrl: string, outageMs: number): Promise<Outages> {
  const pgTarget = new URL(databaseUrl);
  const redisTarget = new URL(redisUrl);
  const pgProxy = await startTcpProxy(Number(pgTarget.port || 5432), pgTarget.hostname);
  const redisProxy = await startTcpProxy(Number(redisTarget.port || 6379), redisTarget.hostname);
  const via = (target: URL, proxy: TcpProxy) => Object.assign(new URL(target), { hostname: '127.0.0.1', port: String(proxy.port) }).toString();
  const outage = async (proxy: TcpProxy) => {
    proxy.cut();
    await sleep(outageMs);
    proxy.restore();
  };
  return {
    databaseUrl: via(pgTarget, pgProxy),
    redisUrl: via(redisTarget, redisProxy),
    restartPostgres: () => outage(pgProxy),
    restartRedis: () => outage(redisProxy),
    async close() {
      await pgProxy.close();
      await redisProxy.close();
    },
  };
}

/**
 * Outages for `npm run chaos`: the machine's own PostgreSQL cluster is restarted with
 * `pg_ctlcluster`, and Redis is shut down and started again with the command the machine uses.
 * Nothing else may use them during the run.
 */
export function serverOutages(databaseUrl: string, redisUrl: string): Outages {
  const version = readdirSync('/etc/postgresql')[0];
  const redisPort = new URL(redisUrl).port || '6379';
  return {
    databaseUrl,
    redisUrl,
    async restartPostgres() {
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
      await until(async () => {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        await c.end();
      }, 'PostgreSQL');
    },
    async restartRedis() {
      await run('redis-cli', ['-p', redisPort, 'shutdown', 'nosave']).catch(() => {}); // exits 1 as the server goes
      await sleep(1000);
      await run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', redisPort, '--save', '', '--appendonly', 'no',
        '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log']);
      await until(async () => {
        const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await r.connect();
          await r.ping();
        } finally {
          r.disconnect();
        }
      }, 'Redis');
    },
    async close() {},
  };
}

async function until(probe: () => Promise<void>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not come back within ${timeoutMs / 1000} s: ${(err as Error).message}`);
      await sleep(250);
    }
  }
}
