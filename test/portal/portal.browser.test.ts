import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI, cliTarget, ROOT } from '../helpers/cli.js';

// The portal in a real browser (Debian's chromium, driven by playwright-core) against a real
// `gatehouse serve` that serves it at /. Screenshots of the screens go to docs/screenshots/.
const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = join(ROOT, 'docs/screenshots');
const ADMIN = { email: 'operator@example.com', password: 'a long operator password' };
const READER = { email: 'reader@example.com', password: 'a long reader password' };

let server: ChildProcess;
let base: string;
let adminKey: string;
let browser: Browser;
let drop: () => Promise<void>;
let workspaceId: string;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  const target = await cliTarget();
  drop = target.drop;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [CLI, 'serve'], { cwd: ROOT, env: { ...process.env, ...target.env, GATEHOUSE_PORT: String(port), GATEHOUSE_HOST: '127.0.0.1', GATEHOUSE_LOG_LEVEL: 'warn' } });
  let out = '';
  adminKey = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no admin key printed: ${out}`)), 60_000);
    server.stdout!.on('data', (d) => {
      out += d;
      const m = /gate_live_[0-9A-Za-z]{49}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  await call('POST', '/v1/users', { ...ADMIN, name: 'Olga Operator', platform_admin: true });
  const org = await call('POST', '/v1/organizations', { name: 'Acme Agency', plan: 'starter' });
  workspaceId = (await call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Client One' })).id;
  const reader = await call('POST', '/v1/users', { ...READER, name: 'Rita Reader' });
  await call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: reader.id, role: 'read_only' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  await new Promise((r) => (server?.exitCode !== null ? r(null) : server.once('exit', r)));
  await drop?.();
});

async function newPage(width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 860 } });
  return context.newPage();
}

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto(base + '/');
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** axe-core on the page as it is now: the serious and critical violations, by rule. */
async function accessibilityProblems(page: Page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run());
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('signing in', () => {
  test('the sign-in page: Email, Password, Sign in; a wrong password is refused with a readable message', async () => {
    const page = await newPage();
    const answer = await page.goto(base + '/');
    // The portal's security headers: no inline script, never framed, no MIME sniffing.
    const headers = answer!.headers();
    expect(headers['content-security-policy']).toMatch(/script-src 'self';/);
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(headers['x-content-type-options']).toBe('nosniff');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await signIn(page, { email: ADMIN.email, password: 'not the password' });
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('wrong email or password');
    await page.context().close();
  });

  test('the right password: the navigation, every page without accessibility problems, and sign out', async () => {
    const page = await newPage();
    await signIn(page, ADMIN);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Overview', 'Workspaces', 'Audit log', 'Settings']) {
      await nav.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 2, name }).waitFor();
      await page.waitForLoadState('networkidle');
      expect(await accessibilityProblems(page), name).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `${name.toLowerCase().replace(/ /g, '-')}.png`), fullPage: true });
    }
    await nav.getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('cell', { name: 'Client One' }).waitFor();
    // A reload keeps the session (the cookie), and lands on the same page.
    await page.reload();
    await page.getByRole('heading', { level: 2, name: 'Workspaces' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.context().close();
  });

  test('a change without the CSRF token is refused even from the signed-in browser', async () => {
    const page = await newPage();
    await signIn(page, ADMIN);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const status = await page.evaluate(async (id) => {
      const res = await fetch(`/v1/workspaces/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hijacked' }) });
      return res.status;
    }, workspaceId);
    expect(status).toBe(403);
    expect((await call('GET', `/v1/workspaces/${workspaceId}`)).name).toBe('Client One');
    await page.context().close();
  });

  test('a read_only member sees only their workspace; the API refuses their writes', async () => {
    const page = await newPage();
    await signIn(page, READER);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('cell', { name: 'Client One' }).waitFor();
    const status = await page.evaluate(async (id) => {
      const me = await (await fetch('/v1/auth/me')).json();
      const res = await fetch(`/v1/workspaces/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token }, body: JSON.stringify({ name: 'renamed' }) });
      return res.status;
    }, workspaceId);
    expect(status).toBe(403);
    await page.context().close();
  });

  test('on a phone-width screen the menu opens from the header', async () => {
    const page = await newPage(390);
    await signIn(page, ADMIN);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 2, name: 'Audit log' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'phone-audit-log.png') });
    await page.context().close();
  });
});
