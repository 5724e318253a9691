import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, operatorEnv, ROOT } from './cli.js';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `serve`: the API alone (`--no-worker`); `worker`: delivery and jobs alone; `all`: both in one. */
export type Role = 'serve' | 'worker' | 'all';

export interface GatehouseProcess {
  role: Role;
  /** The API's base URL (serve) or the ops listener's (worker). */
  url: string;
  proc: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves once /readyz answers 200 (or rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `node dist/cli.js serve [--no-worker]` or `… worker` as an operator would, with only the given
 * settings (nothing of the machine's Gatehouse environment leaks in), on a port chosen here so a
 * restarted process can take the same address again. `root` runs another copy (an installed one).
 */
export async function startGatehouse(role: Role, env: Record<string, string>, port?: number, root = ROOT): Promise<GatehouseProcess> {
  const listenPort = port ?? (await freePort());
  const args = { serve: ['serve', '--no-worker'], worker: ['worker'], all: ['serve'] }[role];
  const proc = spawn(process.execPath, [root === ROOT ? CLI : join(root, 'dist/cli.js'), ...args], {
    cwd: root,
    env: {
      ...operatorEnv(),
      GATEHOUSE_LOG_LEVEL: 'warn',
      GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), `gatehouse-${role}-`)),
      GATEHOUSE_HOST: '127.0.0.1',
      ...(role === 'worker' ? { GATEHOUSE_WORKER_PORT: String(listenPort) } : { GATEHOUSE_PORT: String(listenPort) }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${listenPort}`;
  return {
    role,
    url,
    proc,
    output: () => out,
    async ready(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`gatehouse ${role} exited early:\n${out}`);
        const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
        if (ok) return;
        await sleep(100);
      }
      throw new Error(`gatehouse ${role} not ready after ${timeoutMs} ms:\n${out}`);
    },
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
