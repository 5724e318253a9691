import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';

// Settings → Organization in a real browser: an organization's owner (made by the platform admin)
// runs its people and workspaces, and reads its audit trail.
let portal: Portal;
let org: { id: string; name: string };
let owner: Person & { id: string };
let colleague: Person & { id: string };

beforeAll(async () => {
  portal = await startPortal();
  org = await portal.call('POST', '/v1/organizations', { name: 'Harbor Works', plan: 'starter' });
  await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Harbor One' });
  owner = await portal.person('owen@harbor.example', 'Owen Owner');
  colleague = await portal.person('cora@harbor.example', 'Cora Colleague');
  await portal.call('POST', `/v1/organizations/${org.id}/members`, { user_id: owner.id, role: 'owner' });
  await portal.call('POST', `/v1/organizations/${org.id}/members`, { user_id: colleague.id, role: 'member' });
}, 120_000);
afterAll(() => portal?.close());

const openOrganization = async (page: Page) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('tab', { name: 'Organization', exact: true }).click();
  await page.getByRole('region', { name: 'Members' }).getByRole('cell', { name: owner.email }).waitFor();
};

test("the owner changes a member's organization role after a confirmation, and sees it", async () => {
  const page = await portal.newPage();
  await portal.signIn(page, owner);
  await openOrganization(page);
  await page.getByText('2 of 10 seats').waitFor();
  const members = page.getByRole('region', { name: 'Members' });
  // Their own role is shown, not offered for change.
  expect(await members.getByRole('combobox', { name: `Organization role of ${owner.email}` }).count()).toBe(0);
  await members.getByRole('combobox', { name: `Organization role of ${colleague.email}` }).click();
  await page.getByRole('option', { name: 'Admin', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Make Cora Colleague Admin?' });
  await dialog.waitFor();
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await dialog.getByRole('button', { name: 'Change role' }).click();
  await dialog.waitFor({ state: 'detached' });
  await expect.poll(() => members.getByRole('combobox', { name: `Organization role of ${colleague.email}` }).inputValue()).toBe('Admin');
  const listed = await portal.call('GET', `/v1/organizations/${org.id}/members`);
  expect(listed.data.find((m: { user_id: string }) => m.user_id === colleague.id).role).toBe('admin');
  // The change is in the organization's audit trail, shown on the same page.
  await page.getByRole('region', { name: 'Audit trail' }).getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('region', { name: 'Audit trail' }).getByText('organization.member_role_changed').first().waitFor();
  await page.context().close();
}, 60_000);

test('the owner creates a workspace, archives it after a confirmation and restores it', async () => {
  const page = await portal.newPage();
  await portal.signIn(page, owner);
  await openOrganization(page);
  const part = page.getByRole('region', { name: 'Workspaces' });
  await part.getByText('1 of 10 workspaces').waitFor();
  await part.getByLabel('New workspace name').fill('Harbor Two');
  await part.getByRole('button', { name: 'Create workspace' }).click();
  await part.getByRole('link', { name: 'Harbor Two' }).waitFor();
  await part.getByText('2 of 10 workspaces').waitFor();
  // The same name twice is refused, in words.
  await part.getByLabel('New workspace name').fill('Harbor Two');
  await part.getByRole('button', { name: 'Create workspace' }).click();
  await part.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();

  await part.getByRole('button', { name: 'Archive Harbor Two' }).click();
  const dialog = page.getByRole('dialog', { name: 'Archive Harbor Two?' });
  await dialog.getByRole('button', { name: 'Archive' }).click();
  await dialog.waitFor({ state: 'detached' });
  const row = part.getByRole('row').filter({ hasText: 'Harbor Two' });
  await row.getByText('Archived').waitFor();
  await part.getByText('1 of 10 workspaces').waitFor();
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await row.getByRole('button', { name: 'Restore Harbor Two' }).click();
  await row.getByText('Active').waitFor();
  const ws = (await portal.call('GET', `/v1/workspaces?organization_id=${org.id}`)).data.find((w: { name: string }) => w.name === 'Harbor Two');
  expect(ws).toMatchObject({ status: 'active', archived_at: null });
  await page.context().close();
}, 60_000);

test('the owner renames the organization; a read-only member sees it without the controls', async () => {
  const page = await portal.newPage();
  await portal.signIn(page, owner);
  await openOrganization(page);
  const profile = page.getByRole('region', { name: 'Profile' });
  await profile.getByLabel('Organization name').fill('Harbor Works Ltd');
  await profile.getByRole('button', { name: 'Rename' }).click();
  await expect.poll(async () => (await portal.call('GET', `/v1/organizations/${org.id}`)).name).toBe('Harbor Works Ltd');
  await page.context().close();

  const reader = await portal.person('rita@harbor.example', 'Rita Reader');
  await portal.call('POST', `/v1/organizations/${org.id}/members`, { user_id: reader.id, role: 'read_only' });
  const theirs = await portal.newPage(390);
  await portal.signIn(theirs, reader);
  // At phone width the navigation is behind the menu button: the section has its own address.
  await theirs.goto(`${portal.base}/settings/organization`);
  await theirs.getByRole('tab', { name: 'Organization', exact: true, selected: true }).waitFor();
  await theirs.getByText('Your role lets you see this organization').waitFor();
  expect(await theirs.getByRole('button', { name: 'Invite' }).count()).toBe(0);
  expect(await theirs.getByRole('combobox', { name: /^Organization role of/ }).count()).toBe(0);
  expect(await theirs.getByRole('button', { name: /^Archive / }).count()).toBe(0);
  expect(await portal.accessibilityProblems(theirs)).toEqual([]);
  expect(await theirs.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await theirs.context().close();
}, 60_000);
