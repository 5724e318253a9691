import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';

// The API Keys tab and the audit log in a real browser: a key is shown once and only once,
// rotation and revocation take effect at the verify endpoint, and read_only sees no write control.
let portal: Portal;
let workspaceId: string;
let admin: Person & { id: string };
let reader: Person & { id: string };
/** Every key the browser showed: none may be in the page afterwards, nor in the audit trail. */
const shown: string[] = [];

beforeAll(async () => {
  portal = await startPortal();
  admin = await portal.person('keys-admin@example.com', 'Kim Keys', { platform_admin: true });
  reader = await portal.person('keys-reader@example.com', 'Rex Reader');
  const org = await portal.call('POST', '/v1/organizations', { name: 'Keys Agency', plan: 'starter' });
  workspaceId = (await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Key Client' })).id;
  await portal.call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: reader.id, role: 'read_only' });
}, 120_000);

afterAll(() => portal?.close());

async function verify(key: string): Promise<{ valid: boolean; code: string; key_id?: string }> {
  const res = await fetch(`${portal.base}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  expect(res.status).toBe(200);
  return res.json();
}

async function openKeysTab(page: Page) {
  await page.goto(`${portal.base}/workspaces/${workspaceId}/keys`);
  await page.getByRole('tab', { name: 'API Keys', selected: true }).waitFor();
}

/** Reads the key from the one-time dialog, then closes it. */
async function takeRevealedKey(page: Page): Promise<string> {
  const dialog = page.getByRole('dialog');
  await dialog.getByText('you will not see it again').waitFor();
  const key = (await dialog.getByTestId('revealed-secret').textContent())!.trim();
  expect(key).toMatch(/^gate_live_[0-9A-Za-z]{49}$/);
  shown.push(key);
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await dialog.getByRole('button', { name: 'I have copied it' }).click();
  await dialog.waitFor({ state: 'detached' });
  return key;
}

/** The key is in neither the visible text, nor the HTML, nor the browser's storage. */
async function expectAbsent(page: Page, key: string) {
  expect(await page.locator('body').innerText()).not.toContain(key);
  expect(await page.content()).not.toContain(key);
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  expect(storage).not.toContain(key);
  // The table shows the key's start only.
  expect(await page.content()).toContain(key.slice(0, 14) + '…');
}

/** A page whose waits fail after 10 s, naming the locator, well inside the test's own timeout. */
async function newPage(width?: number) {
  const page = await portal.newPage(width);
  page.setDefaultTimeout(10_000);
  return page;
}

const row = (page: Page, name: string) => page.getByRole('row').filter({ hasText: name });

describe('the API Keys tab', { timeout: 60_000 }, () => {
  let created: string;
  let rotated: string;

  test('an empty tab, the form refuses a key without a name, then a key is created and shown exactly once', async () => {
    const page = await newPage();
    await portal.signIn(page, admin);
    await openKeysTab(page);
    await page.getByText('Nothing here yet').waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await form.getByText('Give the key a name').waitFor();
    await form.getByText('Choose at least one scope').waitFor();
    await form.getByLabel('Name', { exact: true }).fill('billing-service');
    await form.getByLabel('Scopes', { exact: true }).click();
    await page.getByRole('option', { name: 'keys:read', exact: true }).click();
    await page.getByRole('option', { name: 'audit:read', exact: true }).click();
    await form.getByLabel('Rate limit (requests)').fill('100');
    await form.getByLabel('Per window (seconds)').fill('60');
    await form.getByLabel('Remaining uses').fill('1000');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    created = await takeRevealedKey(page);

    const r = row(page, 'billing-service');
    await r.waitFor();
    expect(await r.innerText()).toMatch(/keys:read[\s\S]*audit:read[\s\S]*active[\s\S]*never[\s\S]*100 \/ minute[\s\S]*1,000/i);
    await expectAbsent(page, created);
    await page.reload();
    await row(page, 'billing-service').waitFor();
    await expectAbsent(page, created);
    expect(await verify(created)).toMatchObject({ valid: true, code: 'valid' });
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });

  test('rotate with a grace period: a new key shown once, the old one still verifies', async () => {
    const page = await newPage();
    await portal.signIn(page, admin);
    await openKeysTab(page);
    await row(page, 'billing-service').getByRole('button', { name: 'Rotate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('grace period').first().waitFor();
    await dialog.getByLabel('Grace period', { exact: true }).click();
    await page.getByRole('option', { name: '1 hour' }).click();
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    rotated = await takeRevealedKey(page);
    expect(rotated).not.toBe(created);
    await expectAbsent(page, rotated);
    expect(await page.content()).not.toContain(created);
    // The successor and the old key (rotating, until its grace ends) are both listed and both verify.
    expect(await page.getByRole('row').filter({ hasText: 'rotating' }).count()).toBe(1);
    expect(await verify(rotated)).toMatchObject({ valid: true, code: 'valid' });
    expect(await verify(created)).toMatchObject({ valid: true, code: 'valid' });
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'rotating' }).waitFor();
    await expectAbsent(page, rotated);
    await portal.shot(page, 'workspace-keys');
    await page.context().close();
  });

  test('revoke asks first, then the key answers revoked', async () => {
    const page = await newPage();
    await portal.signIn(page, admin);
    await openKeysTab(page);
    const active = page.getByRole('row').filter({ hasText: 'active' });
    await active.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('cannot be undone').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await verify(rotated)).toMatchObject({ valid: true });
    await active.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row').filter({ hasText: 'revoked' }).waitFor();
    expect(await verify(rotated)).toEqual({ valid: false, code: 'revoked' });
    await page.context().close();
  });

  test('the usage view: requests per day, last use and last IP', async () => {
    const page = await newPage();
    await portal.signIn(page, admin);
    await openKeysTab(page);
    await page.getByRole('row').filter({ hasText: 'rotating' }).getByRole('button', { name: 'Usage' }).click();
    const dialog = page.getByRole('dialog');
    // Usage is batched about once a second: the verifications above show up shortly.
    await expect.poll(async () => {
      await page.waitForTimeout(500);
      await dialog.getByRole('button', { name: 'Close' }).click().catch(() => {});
      await page.getByRole('row').filter({ hasText: 'rotating' }).getByRole('button', { name: 'Usage' }).click();
      return dialog.innerText();
    }, { timeout: 15_000 }).toMatch(/Requests \(30 days\):\s*[1-9]/);
    const text = await dialog.innerText();
    expect(text).toMatch(/Last IP:\s*(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)/);
    expect(text).not.toMatch(/Last used:\s*never/);
    await dialog.getByRole('img', { name: /Requests per day/ }).locator('svg').first().waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });

  test('a read_only member sees the keys but no Create key, Rotate or Revoke; the API refuses their write', async () => {
    await portal.call('POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'still-active', scopes: ['keys:read'] });
    const page = await newPage(390);
    await portal.signIn(page, reader);
    await openKeysTab(page);
    // At phone width each key is a card, its actions included.
    await page.getByRole('listitem', { name: 'still-active' }).getByRole('button', { name: 'Usage' }).waitFor();
    expect(await page.getByRole('listitem', { name: 'billing-service' }).count()).toBe(2);
    for (const name of ['Create key', 'Rotate', 'Revoke']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    const status = await page.evaluate(async (id) => {
      const me = await (await fetch('/v1/auth/me')).json();
      const res = await fetch(`/v1/workspaces/${id}/api-keys`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token }, body: JSON.stringify({ name: 'sneaky', scopes: ['keys:read'] }) });
      return res.status;
    }, workspaceId);
    expect(status).toBe(403);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'phone-workspace-keys', false);
    await page.context().close();
  });
});

describe('the audit log', { timeout: 60_000 }, () => {
  test('shows the key creation by the signed-in person, with before/after and no secret, filtered in the CSV too', async () => {
    const page = await newPage();
    await portal.signIn(page, admin);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 2, name: 'Audit log' }).waitFor();
    await page.getByText('Chain verified').waitFor();
    await page.getByLabel('Action').fill('key.created');
    await page.getByLabel('Actor').fill(admin.email);
    const created = page.getByRole('row').filter({ hasText: 'key.created' });
    await expect.poll(() => created.count()).toBe(2);
    expect(await created.first().innerText()).toContain(`${admin.email} (you)`);
    // The CSV link carries the same filters as the list.
    const href = (await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href'))!;
    const params = new URL(href, portal.base).searchParams;
    expect(Object.fromEntries(params)).toEqual({ actor: admin.id, action: 'key.created', format: 'csv' });
    const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href);
    expect(csv.trim().split(/\r?\n/)).toHaveLength(3);

    await created.last().getByRole('button', { name: /^Details/ }).click();
    const dialog = page.getByRole('dialog');
    const changes = dialog.getByRole('table', { name: 'Changes' });
    await changes.waitFor();
    const nameRow = changes.getByRole('row').filter({ has: page.getByRole('cell', { name: 'name', exact: true }) });
    expect(await nameRow.innerText()).toMatch(/–\s*billing-service\s*added/i);
    const scopesRow = changes.getByRole('row').filter({ has: page.getByRole('cell', { name: 'scopes', exact: true }) });
    expect(await scopesRow.innerText()).toContain('["keys:read","audit:read"]');
    for (const key of shown) {
      expect(await dialog.innerText()).not.toContain(key);
      expect(await page.content()).not.toContain(key);
    }
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Close' }).click();

    // A rotation's entry: the old key's state before and after.
    await page.getByLabel('Action').fill('key.rotated');
    await page.getByLabel('Actor').fill('');
    await page.getByRole('row').filter({ hasText: 'key.rotated' }).getByRole('button', { name: /^Details/ }).click();
    await page.getByRole('dialog').getByRole('table', { name: 'Changes' }).waitFor();
    for (const key of shown) expect(await page.content()).not.toContain(key);
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await page.getByLabel('Action').fill('');
    await page.getByRole('row').filter({ hasText: 'key.revoked' }).first().waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'audit-log');
    await page.context().close();
  });

  test('a workspace admin reads their own workspace’s trail, not another’s, and no chain status', async () => {
    const boss = await portal.person('keys-boss@example.com', 'Bea Boss');
    await portal.call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: boss.id, role: 'admin' });
    const org = await portal.call('POST', '/v1/organizations', { name: 'Elsewhere Agency', plan: 'starter' });
    const elsewhere = (await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Elsewhere' })).id;
    const foreignKey = (await portal.call('POST', `/v1/workspaces/${elsewhere}/api-keys`, { name: 'foreign', scopes: ['keys:read'] })).id;
    const ownKey = (await portal.call('POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'own', scopes: ['keys:read'] })).id;
    const page = await newPage();
    await portal.signIn(page, boss);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('row').filter({ hasText: ownKey }).waitFor();
    // The workspace's own history, such as the read_only member joining it.
    await page.getByRole('row').filter({ hasText: 'member.added' }).filter({ hasText: reader.id }).waitFor();
    expect(await page.content()).not.toContain(foreignKey);
    expect(await page.getByText('Chain verified').count()).toBe(0);
    const href = (await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href'))!;
    expect(new URL(href, portal.base).searchParams.get('workspace_id')).toBe(workspaceId);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });

  test('a read_only member is refused the trail with a readable message', async () => {
    const page = await newPage();
    await portal.signIn(page, reader);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByText('Could not load this').waitFor();
    expect(await page.locator('body').innerText()).toContain('none of your roles allows this');
    await page.context().close();
  });
});
