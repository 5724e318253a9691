import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { openDatabase } from '../../src/runtime.js';
import { createServices, type Services } from '../../src/services.js';
import { createEmptyPgDatabase, TEST_DB } from './db.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** A describe of tests that run the built CLI (dist/): `npm run test:fast` builds nothing, so it leaves them out. */
export const describeCli = process.env.GATEHOUSE_TEST_FAST ? describe.skip : describe;
export const CLI = join(ROOT, 'dist/cli.js');

/** This process's environment without any Gatehouse, database, Redis or tracing setting of the machine's. */
export function operatorEnv(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$|OTEL_)/.test(k)) clean[k] = v;
  return clean;
}

/**
 * Runs `node dist/cli.js …` as an operator would, with only the given Gatehouse settings (none
 * leak in from the test process), and collects its output. Killed if it outlives `timeoutMs`.
 */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 170_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = operatorEnv();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...clean, GATEHOUSE_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * An empty database of this run's kind, as environment for the CLI and for in-test services.
 * Private targets are allowed, as in the app helper: fixtures name hosts this machine cannot
 * resolve, and creation refuses a name it cannot check (pass `GATEHOUSE_ALLOW_PRIVATE_TARGETS:
 * 'false'` to test the refusal).
 */
export async function cliTarget(extra: Record<string, string> = {}): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  const base = { GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' };
  if (TEST_DB === 'pglite') return { env: { ...base, ...extra }, drop: removeDir };
  const pgdb = await createEmptyPgDatabase();
  return {
    env: { DATABASE_URL: pgdb.url, ...base, ...extra },
    drop: async () => {
      await pgdb.drop();
      await removeDir();
    },
  };
}

/** Opens the target (migrating it), runs fn with its services, and always closes them again. */
export async function withTarget<T>(env: Record<string, string>, fn: (s: Services) => Promise<T>): Promise<T> {
  const silent = createLogger('silent');
  const config = loadConfig({ ...env, GATEHOUSE_LOG_LEVEL: 'silent', GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
  const database = await openDatabase(config, silent);
  const services = await createServices(config, database, silent);
  try {
    return await fn(services);
  } finally {
    await services.close();
    await database.close();
  }
}
