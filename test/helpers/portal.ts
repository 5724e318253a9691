import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CLI, cliTarget, ROOT } from './cli.js';

// The portal in a real browser (Debian's chromium, driven by playwright-core) against a real
// `gatehouse serve` that serves it at /. Each browser test file starts one with startPortal().
const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const SHOTS = join(ROOT, 'docs/screenshots');
// The tracked screenshots are rewritten only by `npm run screenshots`: a test run leaves the tree as
// it found it (the page is still captured, so a page that cannot render fails either way).
const WRITE_SHOTS = process.env.GATEHOUSE_SCREENSHOTS === '1';

export interface Person { email: string; password: string }

export interface Portal {
  base: string;
  adminKey: string;
  browser: Browser;
  /** The API with the platform admin key; throws on a non-2xx answer. */
  call(method: string, path: string, body?: unknown): Promise<any>;
  /** A person with a password, made through the API (`POST /v1/users`). */
  person(email: string, name: string, opts?: { platform_admin?: boolean }): Promise<Person & { id: string }>;
  newPage(width?: number): Promise<Page>;
  /** Signs in from the sign-in page and waits for the main navigation. */
  signIn(page: Page, who: Person): Promise<void>;
  /** Captures the page; saves it for the README and the portal guide under `npm run screenshots`. */
  shot(page: Page, name: string, fullPage?: boolean): Promise<void>;
  /** axe-core on the page as it is now: the serious and critical violations, by rule. */
  accessibilityProblems(page: Page): Promise<string[]>;
  close(): Promise<void>;
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** `publicUrlIsBase`: GATEHOUSE_PUBLIC_URL is the server's own address, so links it writes (an invitation's) open in the test's browser. */
export async function startPortal(env: Record<string, string> = {}, opts: { publicUrlIsBase?: boolean } = {}): Promise<Portal> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  const target = await cliTarget();
  // A test may choose the port (and so GATEHOUSE_PUBLIC_URL) itself, e.g. to register a callback with a provider first.
  const port = env.GATEHOUSE_PORT ? Number(env.GATEHOUSE_PORT) : await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server: ChildProcess = spawn(process.execPath, [CLI, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...target.env, GATEHOUSE_PORT: String(port), GATEHOUSE_HOST: '127.0.0.1', GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true', ...(opts.publicUrlIsBase ? { GATEHOUSE_PUBLIC_URL: base } : {}), ...env },
  });
  let out = '';
  const adminKey = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no admin key printed: ${out}`)), 60_000);
    server.stdout!.on('data', (d) => {
      out += d;
      const m = /gate_live_[0-9A-Za-z]{49}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    server.stderr!.on('data', (d) => (out += d));
    server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  if (WRITE_SHOTS) mkdirSync(SHOTS, { recursive: true });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  return {
    base,
    adminKey,
    browser,
    call,
    async person(email, name, opts = {}) {
      const password = `a long password for ${name}`;
      const user = await call('POST', '/v1/users', { email, name, password, ...opts });
      return { id: user.id, email, password };
    },
    async newPage(width = 1280) {
      // Reduced motion: dialogs appear at once, so the accessibility scan never sees one mid-fade.
      const context = await browser.newContext({ viewport: { width, height: 860 }, reducedMotion: 'reduce' });
      return context.newPage();
    },
    async signIn(page, who) {
      await page.goto(base + '/');
      await page.getByLabel('Email', { exact: true }).fill(who.email);
      await page.getByLabel('Password', { exact: true }).fill(who.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
    },
    async shot(page, name, fullPage = true) {
      await page.screenshot({ ...(WRITE_SHOTS ? { path: join(SHOTS, `${name}.png`) } : {}), fullPage });
    },
    async accessibilityProblems(page) {
      await page.evaluate(AXE);
      const result = await page.evaluate(async () => (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run());
      return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    },
    async close() {
      await browser.close();
      server.kill('SIGTERM');
      await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
      await target.drop();
    },
  };
}
