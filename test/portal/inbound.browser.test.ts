import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';
import { startPortal, type Portal } from '../helpers/portal.js';

// The Inbound tab, the Workspaces page and the Overview in a real browser against a real
// `gatehouse serve`; webhooks are signed with the standardwebhooks package, as a sender would.
const ADMIN = { email: 'inbound-admin@example.com', password: 'a long operator password' };
const READER = { email: 'inbound-reader@example.com', password: 'a long reader password' };

let portal: Portal;
let fake: FakeEmailBison;
const ids: Record<string, string> = {};
let healthyKey: string;

beforeAll(async () => {
  portal = await startPortal();
  fake = await startFakeEmailBison();
  const { call } = portal;
  await call('POST', '/v1/users', { ...ADMIN, name: 'Ivo Inbound', platform_admin: true });
  const org = await call('POST', '/v1/organizations', { name: 'Inbound Agency', plan: 'starter' });
  for (const name of ['Client Inbound', 'Failing Co', 'Healthy Co']) ids[name] = (await call('POST', `/v1/organizations/${org.id}/workspaces`, { name })).id;
  const reader = await call('POST', '/v1/users', { ...READER, name: 'Rita Reader' });
  await call('POST', `/v1/workspaces/${ids['Client Inbound']}/members`, { user_id: reader.id, role: 'read_only' });
  // Two Email Bison instances; Failing Co's token is revoked at the provider and fails three tests in a row.
  for (const [ws, instance, team] of [['Failing Co', 'North agency', 11], ['Healthy Co', 'South agency', 12]] as const) {
    const inst = await call('POST', '/v1/instances', { provider: 'emailbison', name: instance, base_url: fake.url });
    fake.addTeam(team, 2);
    const token = fake.addApiToken(team);
    await call('PUT', `/v1/workspaces/${ids[ws]}/credentials/emailbison`, { instance: inst.id, api_key: token, provider_workspace_id: String(team) });
    if (ws === 'Failing Co') fake.revokeToken(token);
    for (let i = 0; i < (ws === 'Failing Co' ? 3 : 1); i++) await call('POST', `/v1/workspaces/${ids[ws]}/credentials/emailbison/test`);
  }
  healthyKey = (await call('POST', `/v1/workspaces/${ids['Healthy Co']}/api-keys`, { name: 'app', scopes: ['*'] })).key;
}, 120_000);

afterAll(async () => {
  await portal?.close();
  await fake?.close();
});

const inboundTab = async (page: Page, who = ADMIN) => {
  await portal.signIn(page, who);
  await page.goto(`${portal.base}/workspaces/${ids['Client Inbound']}/inbound`);
  await page.getByRole('heading', { name: 'Sources' }).waitFor();
};
const sourceRow = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByText(name, { exact: true }) }).first();
const send = (url: string, secret: string, body: string) => {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const at = new Date();
  return fetch(url, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body) },
  });
};

describe('the Inbound tab', () => {
  let url: string;
  let secret: string;
  const marker = `order-${randomBytes(6).toString('hex')}`;

  test('add a standard source: the secret once, the URL copied from the page; a signed event is received, viewed and replayed; a bad signature is counted', async () => {
    const page = await portal.newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: portal.base });
    await inboundTab(page);
    await page.getByText('No inbound sources yet').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);

    await page.getByRole('button', { name: 'Add source' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.getByLabel('Provider').inputValue()).toBe('Standard Webhooks');
    // Gatehouse picks the secret for standard sources: the form asks for none.
    expect(await dialog.getByLabel('Signing secret').count()).toBe(0);
    await dialog.getByLabel('Name').fill('billing events');
    await dialog.getByRole('button', { name: 'Add' }).click();
    secret = (await dialog.getByTestId('revealed-secret').textContent())!.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32,}$/);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    // Once dismissed, the secret is nowhere in the page.
    expect(await page.content()).not.toContain(secret);

    await sourceRow(page, 'billing events').getByRole('button', { name: 'Copy the receiving URL of billing events' }).click();
    url = await page.evaluate(() => navigator.clipboard.readText());
    expect(url).toMatch(/\/hooks\/src_[A-Za-z0-9]{27}$/);
    expect(await sourceRow(page, 'billing events').textContent()).toContain('signed');

    const good = await send(url, secret, JSON.stringify({ type: 'invoice.paid', data: { order: marker } }));
    expect(good.status, await good.text()).toBeLessThan(300);
    const bad = await send(url, `whsec_${randomBytes(32).toString('base64')}`, JSON.stringify({ type: 'invoice.paid' }));
    expect(bad.status).toBe(401);

    await page.reload();
    const row = sourceRow(page, 'billing events');
    await row.getByLabel('1 verification failures').waitFor();
    expect(await row.getByText('just now').count()).toBe(1);

    const eventRow = page.getByRole('row').filter({ has: page.getByRole('button', { name: 'View payload' }) });
    // Verified, then ignored: no Gatehouse event type is registered for invoice.paid.
    await eventRow.getByText('ignored').waitFor({ timeout: 20_000 });
    expect(await eventRow.count()).toBe(1);
    expect(await eventRow.textContent()).toContain('verified');
    await eventRow.getByRole('button', { name: 'View payload' }).click();
    const payload = page.getByTestId('event-payload');
    await payload.waitFor();
    expect(await payload.textContent()).toContain(`"order": "${marker}"`);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await payload.waitFor({ state: 'detached' });

    await eventRow.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('Replay queued').waitFor();
    await eventRow.getByText('(1 replay)').waitFor({ timeout: 20_000 });
    await eventRow.getByText('ignored').waitFor({ timeout: 20_000 });

    // The status filter narrows the list to nothing; cleared, the event is back.
    await page.getByRole('combobox', { name: 'Status', exact: true }).click();
    await page.getByRole('option', { name: 'failed' }).click();
    await page.getByText('No event matches these filters.').waitFor();
    await page.getByRole('combobox', { name: 'Status', exact: true }).click();
    await page.getByRole('option', { name: 'ignored' }).click();
    await eventRow.waitFor();
    await page.waitForLoadState('networkidle');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'workspace-inbound');
    await page.context().close();
  }, 90_000);

  test('rotate shows the new secret once and the old one still works; disable refuses; delete asks first', async () => {
    const page = await portal.newPage();
    await inboundTab(page);
    const row = sourceRow(page, 'billing events');
    await row.getByRole('button', { name: 'Rotate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const fresh = (await page.getByTestId('revealed-secret').textContent())!.trim();
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(secret);
    await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
    expect((await send(url, fresh, '{"type":"a"}')).status).toBeLessThan(300);
    expect((await send(url, secret, '{"type":"b"}')).status).toBeLessThan(300);

    await row.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    expect((await send(url, fresh, '{"type":"c"}')).status).toBeGreaterThanOrEqual(400);
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByText('enabled', { exact: true }).waitFor();

    // A second source to delete: Cancel keeps it, confirming removes it.
    await portal.call('POST', `/v1/workspaces/${ids['Client Inbound']}/inbound-sources`, { provider: 'http', name: 'scratch' });
    await page.reload();
    const scratch = sourceRow(page, 'scratch');
    expect(await scratch.textContent()).toContain('unsigned');
    await scratch.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await scratch.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete source' }).click();
    await scratch.waitFor({ state: 'detached' });
    expect(await sourceRow(page, 'billing events').count()).toBe(1);
    await page.context().close();
  }, 60_000);

  test('read_only sees the sources and events but no write control (on a phone-width screen)', async () => {
    const page = await portal.newPage(390);
    await inboundTab(page, READER);
    await sourceRow(page, 'billing events').waitFor();
    await page.getByRole('button', { name: 'View payload' }).first().waitFor();
    for (const name of ['Add source', 'Rotate', 'Disable', 'Enable', 'Delete', 'Replay']) expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    // The tables scroll inside their box; the page itself does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });
});

describe('the Workspaces page', () => {
  const names = async (page: Page) => page.getByRole('listitem').evaluateAll((cards) => cards.map((c) => c.getAttribute('aria-label')).filter(Boolean));
  const choose = async (page: Page, label: string, option: string) => {
    await page.getByRole('combobox', { name: label, exact: true }).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  };

  test('cards and a table; instance, health and search narrow the list', async () => {
    const page = await portal.newPage();
    await portal.signIn(page, ADMIN);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('listitem', { name: 'Failing Co' }).waitFor();
    expect((await names(page)).sort()).toEqual(['Client Inbound', 'Failing Co', 'Healthy Co']);
    const failing = page.getByRole('listitem', { name: 'Failing Co' });
    expect(await failing.textContent()).toContain('North agency');
    expect(await failing.textContent()).toContain('no key');
    // A key by its first characters only, never whole.
    const healthy = (await page.getByRole('listitem', { name: 'Healthy Co' }).textContent())!;
    expect(healthy).toContain(`${healthyKey.slice(0, 14)}••••…`);
    expect(healthy).not.toContain(healthyKey);
    expect(await page.content()).not.toContain(healthyKey.slice(14));
    await page.waitForLoadState('networkidle');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'workspaces-grid');

    await choose(page, 'Health', 'Failing');
    await page.getByText('1 of 3 workspaces').waitFor();
    expect(await names(page)).toEqual(['Failing Co']);
    await choose(page, 'Health', 'Healthy');
    expect(await names(page)).toEqual(['Healthy Co']);
    await choose(page, 'Instance', 'North agency');
    await page.getByText('No workspace matches').waitFor();
    await page.reload();
    await choose(page, 'Instance', 'South agency');
    await page.getByText('1 of 3 workspaces').waitFor();
    expect(await names(page)).toEqual(['Healthy Co']);
    await page.reload();
    await page.getByLabel('Search').fill('client');
    await page.getByText('1 of 3 workspaces').waitFor();
    expect(await names(page)).toEqual(['Client Inbound']);

    await page.getByText('Table', { exact: true }).click();
    const rows = page.getByRole('row');
    await page.getByRole('columnheader', { name: 'Gatehouse key' }).waitFor();
    expect(await rows.count()).toBe(2);
    await page.getByLabel('Search').fill('');
    await page.getByText('3 of 3 workspaces').waitFor();
    expect(await rows.count()).toBe(4);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.getByRole('link', { name: 'Failing Co' }).click();
    await page.getByRole('heading', { level: 2, name: 'Failing Co' }).waitFor();
    await page.context().close();
  }, 60_000);

  test('at phone width the cards stack and stay readable', async () => {
    const page = await portal.newPage(390);
    await portal.signIn(page, ADMIN);
    await page.goto(`${portal.base}/workspaces`);
    await page.getByRole('listitem', { name: 'Failing Co' }).waitFor();
    const box = await page.getByRole('listitem', { name: 'Failing Co' }).boundingBox();
    expect(box!.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.context().close();
  });
});

describe('the Overview', () => {
  test('lists the failing workspace first, linking to its Credentials tab; the webhook success rate', async () => {
    const page = await portal.newPage();
    await portal.signIn(page, ADMIN);
    const list = page.getByRole('list', { name: 'Needs attention' });
    await list.waitFor();
    const first = list.getByRole('listitem').first();
    expect(await first.textContent()).toMatch(/failing.*Failing Co.*emailbison credential failing/);
    await page.getByLabel('Webhook success rate, last 24 h').waitFor();
    await page.waitForLoadState('networkidle');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'overview');
    await first.getByRole('link', { name: 'Failing Co' }).click();
    await page.waitForURL(`**/workspaces/${ids['Failing Co']}/credentials`);
    expect(await page.getByRole('tab', { name: 'Credentials' }).getAttribute('aria-selected')).toBe('true');
    await page.context().close();
  });
});
