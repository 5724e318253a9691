import type { IncomingHttpHeaders } from 'node:http';
import type { Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Portal } from '../helpers/portal.js';
import { startReceiver, type Receiver } from '../helpers/webhooks.js';

// The Webhooks tab in a real browser against a real `gatehouse serve` (its delivery worker
// included), delivering to real loopback receivers that verify the Standard Webhooks signature
// with the secret the browser revealed.
const ADMIN = { email: 'hooks-admin@example.com', password: 'a long operator password' };

interface Got { id: string; verified: boolean; headers: IncomingHttpHeaders; body: string }

/** A receiver that answers `status` and records whether each request's signature verified. */
async function verifyingReceiver() {
  const state = { secret: '', status: 200, got: [] as Got[] };
  const receiver: Receiver = await startReceiver((r) => {
    let verified = false;
    try {
      new Webhook(state.secret).verify(r.body, r.headers as Record<string, string>);
      verified = true;
    } catch {
      verified = false;
    }
    state.got.push({ id: String(r.headers['webhook-id']), verified, headers: r.headers, body: r.body });
    return { status: state.status, body: state.status === 200 ? '{"ok":true}' : '{"error":"refused by the test receiver"}' };
  });
  return { state, receiver };
}

let portal: Portal;
let reader: { id: string; email: string; password: string };
let workspaceId: string;
let good: Awaited<ReturnType<typeof verifyingReceiver>>;
let refusing: Awaited<ReturnType<typeof verifyingReceiver>>;
const revealed: string[] = [];

beforeAll(async () => {
  portal = await startPortal();
  await portal.call('POST', '/v1/users', { ...ADMIN, name: 'Hana Hooks', platform_admin: true });
  const org = await portal.call('POST', '/v1/organizations', { name: 'Hooks Agency', plan: 'starter' });
  workspaceId = (await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Hooks Client' })).id;
  // http:// endpoints need a workspace in test mode (or GATEHOUSE_ALLOW_PRIVATE_TARGETS, which the harness sets too).
  await portal.call('PATCH', `/v1/workspaces/${workspaceId}`, { test_mode: true });
  reader = await portal.person('hooks-reader@example.com', 'Rudi Reader');
  await portal.call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: reader.id, role: 'read_only' });
  good = await verifyingReceiver();
  refusing = await verifyingReceiver();
  refusing.state.status = 400;
}, 120_000);

afterAll(async () => {
  await good?.receiver.close();
  await refusing?.receiver.close();
  await portal?.close();
});

/** A page whose waits fail after 10 s with the locator they waited for, inside the test's own time. */
async function newPage(width?: number) {
  const page = await portal.newPage(width);
  page.setDefaultTimeout(10_000);
  return page;
}

async function openTab(page: Page, who = ADMIN) {
  await portal.signIn(page, who);
  await page.goto(`${portal.base}/workspaces/${workspaceId}/webhooks`);
  await page.getByRole('tab', { name: 'Endpoints' }).waitFor();
}

/** Fills the Add endpoint dialog, creates it, and returns the secret the dialog showed once. */
async function addEndpoint(page: Page, fields: { name: string; url: string; maxRetries?: number; header?: [string, string]; token?: string }) {
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add endpoint' });
  await dialog.getByLabel('Name', { exact: true }).fill(fields.name);
  await dialog.getByLabel(/^URL/).fill(fields.url);
  const events = dialog.getByLabel(/^Events/);
  await events.fill('lead.*');
  await events.press('Enter');
  await events.press('Tab');
  expect(await dialog.locator('.mantine-Pill-label').allTextContents()).toEqual(['lead.*']);
  if (fields.maxRetries !== undefined) await dialog.getByLabel('Max retries').fill(String(fields.maxRetries));
  if (fields.header) {
    await dialog.getByRole('button', { name: 'Add header' }).click();
    await dialog.getByLabel('Header 1 name').fill(fields.header[0]);
    await dialog.getByLabel('Header 1 value').fill(fields.header[1]);
  }
  if (fields.token) await dialog.getByLabel('Auth token').fill(fields.token);
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await dialog.getByRole('button', { name: 'Create endpoint' }).click();
  const reveal = page.getByRole('dialog', { name: 'Endpoint created' });
  const secret = await (await reveal.getByTestId('revealed-secret').textContent())!.trim();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32,}$/);
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await reveal.getByRole('button', { name: 'Done' }).click();
  await reveal.waitFor({ state: 'detached' });
  await page.getByRole('row', { name: new RegExp(fields.name) }).waitFor();
  // Shown once: nowhere in the page once the dialog is closed.
  expect(await page.content()).not.toContain(secret);
  revealed.push(secret);
  return secret;
}

describe('the Webhooks tab', { timeout: 90_000 }, () => {
  test('add an endpoint, see its secret once, Send test: the receiver verifies it and the deliveries show the 2xx attempt', async () => {
    const page = await newPage();
    await openTab(page);
    await page.getByText('Nothing here yet').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);

    good.state.secret = await addEndpoint(page, { name: 'orders', url: `${good.receiver.url}/hooks`, header: ['X-Tenant', 'acme'], token: 'tok_for_the_receiver' });
    const row = page.getByRole('row', { name: /orders/ });
    await row.getByRole('button', { name: 'Send test' }).click();
    const drawer = page.getByRole('dialog', { name: 'Deliveries to orders' });
    await drawer.getByText('The endpoint answered 200.').waitFor();
    await good.receiver.waitFor(1);
    expect(good.state.got).toHaveLength(1);
    expect(good.state.got[0].verified).toBe(true);
    expect(good.state.got[0].headers['x-tenant']).toBe('acme');
    expect(good.state.got[0].headers.authorization).toBe('Bearer tok_for_the_receiver');
    expect(JSON.parse(good.state.got[0].body).type).toBe('gatehouse.webhook.test');
    // The test delivery opens with its attempts: one, answered 200, with the receiver's body.
    const attempt = drawer.getByRole('row', { name: /succeeded/ });
    await expect.poll(() => attempt.getByRole('cell').nth(2).textContent()).toBe('200');
    expect(await attempt.textContent()).toContain('{"ok":true}');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'webhook-deliveries', false);
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    await expect.poll(() => row.textContent()).toContain('100 %');
    await portal.shot(page, 'workspace-webhooks');
    await page.context().close();
  });

  test('a 400 puts the delivery in dead letters; Replay there delivers it again with the same webhook-id', async () => {
    const page = await newPage();
    await openTab(page);
    refusing.state.secret = await addEndpoint(page, { name: 'crm', url: `${refusing.receiver.url}/in`, maxRetries: 0 });
    await page.getByRole('row', { name: /crm/ }).getByRole('button', { name: 'Send test' }).click();
    const drawer = page.getByRole('dialog', { name: 'Deliveries to crm' });
    await drawer.getByText(/The endpoint refused it/).waitFor();
    await page.keyboard.press('Escape');
    expect(refusing.state.got).toHaveLength(1);
    const first = refusing.state.got[0];
    expect(first.verified).toBe(true);

    await page.getByRole('tab', { name: 'Dead letters' }).click();
    const dead = page.getByRole('button', { name: /dead\s*gatehouse\.webhook\.test/ });
    await dead.waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    refusing.state.status = 200;
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await refusing.receiver.waitFor(2);
    expect(refusing.state.got[1].verified).toBe(true);
    expect(refusing.state.got[1].id).toBe(first.id);
    expect(refusing.state.got[1].body).toBe(first.body);
    // Delivered now, so it leaves the dead-letter list.
    await page.getByText('Nothing here yet').waitFor();
    await page.context().close();
  });

  test('analytics: the summary cards count the attempts; every window and the endpoint filter answer', async () => {
    // The worker records an attempt just after the receiver answers; wait for the third to be in the roll-ups.
    await expect.poll(async () => (await portal.call('GET', `/v1/workspaces/${workspaceId}/webhooks/analytics?window=1h`)).total, { timeout: 10_000 }).toBe(3);
    const page = await newPage();
    await openTab(page);
    await page.getByRole('tab', { name: 'Analytics' }).click();
    const card = (name: string) => page.getByRole('group', { name }).locator('p').nth(1);
    await expect.poll(() => card('Total').textContent()).toBe('3');
    expect(await card('Succeeded').textContent()).toBe('2');
    expect(await card('Failed').textContent()).toBe('1');
    expect(await card('Average response').textContent()).toMatch(/^\d+ ms$/);
    await page.getByRole('img', { name: /Attempts and average latency/ }).waitFor();
    await page.getByRole('cell', { name: 'crm' }).waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'webhook-analytics');

    await page.getByRole('combobox', { name: 'Endpoint' }).click();
    await page.getByRole('option', { name: 'orders' }).click();
    await expect.poll(() => card('Total').textContent()).toBe('1');
    await page.getByText('30 d').click();
    await expect.poll(() => card('Failed').textContent()).toBe('0');
    await page.context().close();
  });

  test('a phone-width screen shows the endpoints', async () => {
    const page = await newPage(390);
    await openTab(page);
    await page.getByRole('row', { name: /orders/ }).waitFor();
    await portal.shot(page, 'phone-webhooks', false);
    await page.context().close();
  });

  test('a read_only member sees endpoints, deliveries and dead letters, but no Add endpoint, Send test or Replay', async () => {
    // A dead letter to look at: crm refuses again.
    refusing.state.status = 400;
    const crm = (await portal.call('GET', `/v1/workspaces/${workspaceId}/webhooks`)).data.find((e: { name: string }) => e.name === 'crm');
    await portal.call('POST', `/v1/webhooks/${crm.id}/test`, {});
    await expect.poll(async () => (await portal.call('GET', `/v1/workspaces/${workspaceId}/dead-letters`)).data.length, { timeout: 10_000 }).toBe(1);

    const page = await newPage();
    await openTab(page, reader);
    await page.getByRole('row', { name: /orders/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Add endpoint' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send test' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /More actions/ }).count()).toBe(0);
    await page.getByRole('row', { name: /crm/ }).getByRole('button', { name: 'Deliveries' }).click();
    const drawer = page.getByRole('dialog', { name: 'Deliveries to crm' });
    await drawer.getByRole('button', { name: /succeeded\s*gatehouse\.webhook\.test/ }).waitFor();
    expect(await drawer.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: 'Dead letters' }).click();
    await page.getByRole('button', { name: /dead\s*gatehouse\.webhook\.test/ }).waitFor();
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    // No secret the browser ever revealed reaches a reader.
    for (const s of revealed) expect(await page.content()).not.toContain(s);
    await page.context().close();
  });
  test('edit keeps the name fixed and the auth token unshown; rotate (confirmed) shows the new secret once and signs with it; delete (confirmed)', async () => {
    const page = await newPage();
    await openTab(page);
    const actions = (name: string) => page.getByRole('button', { name: `More actions for ${name}` });
    await actions('orders').click();
    await page.getByRole('menuitem', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit orders' });
    await page.getByRole('menu').waitFor({ state: 'detached' });
    expect(await edit.getByLabel('Name', { exact: true }).getAttribute('readonly')).not.toBeNull();
    expect(await edit.getByLabel('Auth token', { exact: true }).inputValue()).toBe('');
    expect(await edit.textContent()).toContain('leave blank to keep it');
    // Header values are sealed: the form holds only the mask, and saving it unchanged keeps the value.
    expect(await edit.getByLabel('Header 1 value').inputValue()).toBe('****');
    expect(await page.content()).not.toContain('acme');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await edit.getByLabel('Timeout (s)').fill('');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.getByText('A number of seconds').waitFor();
    await edit.getByLabel('Timeout (s)').fill('10');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'detached' });
    const orders = (await portal.call('GET', `/v1/workspaces/${workspaceId}/webhooks`)).data.find((e: { name: string }) => e.name === 'orders');
    expect(orders.timeout_s).toBe(10);
    expect(orders.auth_token).not.toBeNull();

    await actions('orders').click();
    await page.getByRole('menuitem', { name: 'Rotate secret' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await confirm.waitFor();
    // The menu fades out; scan once it is gone.
    await page.getByRole('menu').waitFor({ state: 'detached' });
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const reveal = page.getByRole('dialog', { name: 'New signing secret' });
    const secret = await (await reveal.getByTestId('revealed-secret').textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    expect(revealed).not.toContain(secret);
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);

    // The receiver now knows only the new secret, and still verifies the next message.
    good.state.secret = secret;
    const before = good.state.got.length;
    await page.getByRole('row', { name: /orders/ }).getByRole('button', { name: 'Send test' }).click();
    await page.getByRole('dialog', { name: 'Deliveries to orders' }).getByText('The endpoint answered 200.').waitFor();
    expect(good.state.got).toHaveLength(before + 1);
    expect(good.state.got[before].verified).toBe(true);
    expect(good.state.got[before].headers['x-tenant'], 'the edit that sent the mask back kept the value').toBe('acme');
    await page.keyboard.press('Escape');

    await actions('crm').click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this endpoint?' }).getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByRole('row', { name: /crm/ }).waitFor({ state: 'detached' });
    expect((await portal.call('GET', `/v1/workspaces/${workspaceId}/webhooks`)).data.map((e: { name: string }) => e.name)).toEqual(['orders']);
    await page.context().close();
  });
});
