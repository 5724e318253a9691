import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Portal } from '../helpers/portal.js';

// Signing in, the shell and the roles, in a real browser against a real `gatehouse serve`.
const ADMIN = { email: 'operator@example.com', password: 'a long operator password' };
const READER = { email: 'reader@example.com', password: 'a long reader password' };

let portal: Portal;
let base: string;
let workspaceId: string;
let call: Portal['call'];

beforeAll(async () => {
  portal = await startPortal();
  ({ base, call } = portal);
  await call('POST', '/v1/users', { ...ADMIN, name: 'Olga Operator', platform_admin: true });
  const org = await call('POST', '/v1/organizations', { name: 'Acme Agency', plan: 'starter' });
  workspaceId = (await call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Client One' })).id;
  const reader = await call('POST', '/v1/users', { ...READER, name: 'Rita Reader' });
  await call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: reader.id, role: 'read_only' });
}, 120_000);

afterAll(() => portal?.close());

const newPage = (width?: number) => portal.newPage(width);
const accessibilityProblems = (page: Page) => portal.accessibilityProblems(page);

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto(base + '/');
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
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
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'sign-in', false);
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
      // The Settings screenshot is the settings test's (its Organizations section); this one is the account view.
      await portal.shot(page, name === 'Settings' ? 'settings-account' : name.toLowerCase().replace(/ /g, '-'));
    }
    await nav.getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('link', { name: 'Client One' }).waitFor();
    // A reload keeps the session (the cookie), and lands on the same page.
    await page.reload();
    await page.getByRole('heading', { level: 2, name: 'Workspaces' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
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
    await page.getByRole('link', { name: 'Client One' }).waitFor();
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
    await portal.shot(page, 'phone-audit-log', false);
    await page.context().close();
  });
});
