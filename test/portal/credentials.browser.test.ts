import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';

// The Credentials, API Logs and Onboarding tabs in a real browser, against a real `gatehouse serve`
// whose Email Bison instance is the loopback fake speaking Email Bison's wire format.
const TEAM = 301;
const mask = (v: string) => `${v.slice(0, 4)}***${v.slice(-4)}`;

let portal: Portal;
let fake: FakeEmailBison;
let admin: Person & { id: string };
let reader: Person & { id: string };
let workspaceId: string;
let emptyWorkspaceId: string;
let token: string;

beforeAll(async () => {
  [portal, fake] = await Promise.all([startPortal(), startFakeEmailBison()]);
  // 20 accounts, the 15th served again at the top of page 2: 21 fetched, 20 unique, 1 duplicate.
  fake.addTeam(TEAM, 20, { repeatAcrossPages: true });
  token = fake.addApiToken(TEAM);
  const { call } = portal;
  const instance = await call('POST', '/v1/instances', { provider: 'emailbison', name: 'Agency Bison', base_url: fake.url });
  await call('PUT', `/v1/instances/${instance.id}/admin-credential`, { api_key: fake.addSuperAdminToken(TEAM) });
  admin = await portal.person('olga@example.com', 'Olga Operator', { platform_admin: true });
  reader = await portal.person('rita@example.com', 'Rita Reader');
  const org = await call('POST', '/v1/organizations', { name: 'Acme Agency', plan: 'starter' });
  workspaceId = (await call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Client One' })).id;
  emptyWorkspaceId = (await call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Client Two' })).id;
  await call('POST', `/v1/workspaces/${workspaceId}/members`, { user_id: reader.id, role: 'read_only' });
}, 120_000);

afterAll(async () => {
  await portal?.close();
  await fake?.close();
});

/** A signed-in page; a missing element fails in 10 s with its locator named, not at the test's timeout. */
async function signedIn(who: Person, width?: number) {
  const page = await portal.newPage(width);
  page.setDefaultTimeout(10_000);
  await portal.signIn(page, who);
  return page;
}

async function openTab(page: Page, id: string, tab: string) {
  await page.goto(`${portal.base}/workspaces/${id}/${tab}`);
  await page.waitForLoadState('networkidle');
}

const bison = (page: Page) => page.getByRole('region', { name: 'Email Bison' });
const tokenInput = (section: Locator) => section.getByRole('textbox', { name: 'API token', exact: true });

async function clickAndSettle(page: Page, button: Locator) {
  await button.click();
  await page.waitForLoadState('networkidle');
}

describe('the Credentials tab', { timeout: 90_000 }, () => {
  test('an Email Bison credential: saved through the form, never shown again, kept when the secret is left blank', async () => {
    const page = await signedIn(admin);
    await openTab(page, workspaceId, 'credentials');
    const section = bison(page);
    await expect(section.getByLabel('Email Bison: missing').isVisible()).resolves.toBe(true);
    // Nothing stored yet: nothing to test or delete.
    expect(await section.getByRole('button', { name: 'Test connection' }).count()).toBe(0);

    // Saving without the token is refused in the form, naming the field.
    await section.getByRole('button', { name: 'Save' }).click();
    await section.getByText('API token is required').waitFor();

    await section.getByRole('combobox', { name: 'Instance', exact: true }).click();
    await page.getByRole('option', { name: 'Agency Bison' }).click();
    await tokenInput(section).fill(token);
    // The show/hide toggle reveals what is being typed, and hides it again.
    await section.getByRole('button', { name: 'Show or hide API token' }).click();
    expect(await tokenInput(section).getAttribute('type')).toBe('text');
    await section.getByRole('button', { name: 'Show or hide API token' }).click();
    expect(await tokenInput(section).getAttribute('type')).toBe('password');
    await section.getByRole('textbox', { name: 'Email Bison workspace id' }).fill(String(TEAM));
    await clickAndSettle(page, section.getByRole('button', { name: 'Save' }));
    await section.getByText('Saved.').waitFor();
    expect(await tokenInput(section).inputValue()).toBe('');
    await section.getByLabel('Email Bison: active').waitFor();

    const stored = (await portal.call('GET', `/v1/workspaces/${workspaceId}/credentials`)).data;
    expect(stored).toMatchObject([{ provider: 'emailbison', fields: { provider_workspace_id: String(TEAM) }, secrets: { api_key: { set: true, mask: mask(token) } } }]);

    // After a reload: the input is empty, only the mask is on the page.
    await page.reload();
    await page.waitForLoadState('networkidle');
    await section.getByText(`Current: ${mask(token)}`).waitFor();
    expect(await tokenInput(section).inputValue()).toBe('');
    expect(await tokenInput(section).getAttribute('placeholder')).toBe('leave blank to keep');
    const html = await page.content();
    expect(html).not.toContain(token);
    expect(html).not.toContain(token.split('|')[1]);

    // Saved again with the secret blank: the stored token still works.
    await clickAndSettle(page, section.getByRole('button', { name: 'Save' }));
    await section.getByText('Saved.').waitFor();
    const before = fake.seen.length;
    await clickAndSettle(page, section.getByRole('button', { name: 'Test connection' }));
    const ok = section.getByRole('alert').filter({ hasText: 'Connection works' });
    await ok.waitFor();
    expect(await ok.textContent()).toMatch(/HTTP 200 · \d+ ms · authenticated as api\d+@team301\.example/);
    expect(fake.seen.slice(before).map((s) => [s.path, s.token])).toEqual([['/api/users', token]]);
    expect(await page.content()).not.toContain(token.split('|')[1]);
    await page.context().close();
  });

  test("a wrong key fails the test with the provider's message; Generate token mints a working one; Sync shows the counts", async () => {
    const page = await signedIn(admin);
    await openTab(page, workspaceId, 'credentials');
    const section = bison(page);
    await tokenInput(section).fill('99|notarealtokennotarealtoken');
    await clickAndSettle(page, section.getByRole('button', { name: 'Save' }));
    await section.getByText('Current: 99|n***oken').waitFor();
    await clickAndSettle(page, section.getByRole('button', { name: 'Test connection' }));
    const failed = section.getByRole('alert').filter({ hasText: 'Connection failed' });
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/HTTP 401 · \d+ ms · Unauthenticated\./);
    await section.getByLabel('Email Bison: failing').waitFor();

    await clickAndSettle(page, section.getByRole('button', { name: 'Generate token' }));
    await section.getByRole('alert').filter({ hasText: 'Token generated' }).waitFor();
    const minted = fake.tokens().filter((t) => t.minted && t.teamId === TEAM);
    expect(minted).toHaveLength(1);
    await section.getByText(`Current: ${mask(minted[0].token)}`).waitFor();
    expect(await page.content()).not.toContain(minted[0].token.split('|')[1]);
    await clickAndSettle(page, section.getByRole('button', { name: 'Test connection' }));
    await section.getByRole('alert').filter({ hasText: 'Connection works' }).waitFor();
    await section.getByLabel('Email Bison: active').waitFor();

    await clickAndSettle(page, section.getByRole('button', { name: 'Sync sender emails' }));
    const synced = section.getByRole('alert').filter({ hasText: 'Sender emails synced' });
    await synced.waitFor();
    expect(await synced.textContent()).toContain('21 fetched / 20 unique / 20 provider total / 1 duplicates');

    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'workspace-credentials');
    await page.context().close();
  });

  test('SMS: the selector shows the chosen provider\'s fields; generic HTTP shows the fields of its auth type; delete asks first', async () => {
    const page = await signedIn(admin);
    await openTab(page, workspaceId, 'credentials');
    const sms = page.getByRole('region', { name: 'SMS' });
    await sms.getByRole('textbox', { name: 'Account SID', exact: true }).waitFor();
    await sms.getByText('Vonage', { exact: true }).click();
    await sms.getByRole('textbox', { name: 'Signature secret', exact: true }).waitFor();
    expect(await sms.getByRole('textbox', { name: 'Account SID', exact: true }).count()).toBe(0);
    await sms.getByText('AWS SNS', { exact: true }).click();
    await sms.getByRole('textbox', { name: 'Access key id', exact: true }).waitFor();
    await sms.getByText('Twilio', { exact: true }).click();
    await sms.getByRole('textbox', { name: 'Account SID', exact: true }).fill('AC0123456789abcdef0123456789abcdef');
    await sms.getByRole('textbox', { name: 'Auth token', exact: true }).fill('twilio-auth-token-0123456789');
    await clickAndSettle(page, sms.getByRole('button', { name: 'Save' }));
    await sms.getByLabel('Twilio: active').waitFor();

    const http = page.getByRole('region', { name: 'Generic HTTP' });
    await http.getByRole('textbox', { name: 'Token', exact: true }).waitFor();
    await http.getByRole('combobox', { name: 'Authentication', exact: true }).click();
    await page.getByRole('option', { name: 'basic' }).click();
    await http.getByRole('textbox', { name: 'Username', exact: true }).waitFor();
    expect(await http.getByRole('textbox', { name: 'Token', exact: true }).count()).toBe(0);
    await http.getByRole('combobox', { name: 'Authentication', exact: true }).click();
    await page.getByRole('option', { name: 'header' }).click();
    await http.getByRole('textbox', { name: 'Header name', exact: true }).waitFor();
    expect(await http.getByRole('textbox', { name: 'Username', exact: true }).count()).toBe(0);

    // Delete asks first; Cancel keeps the credential.
    await sms.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the Twilio credential?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await portal.call('GET', `/v1/workspaces/${workspaceId}/credentials`)).data.map((c: { provider: string }) => c.provider).sort()).toEqual(['emailbison', 'twilio']);
    await sms.getByRole('button', { name: 'Delete' }).click();
    await clickAndSettle(page, dialog.getByRole('button', { name: 'Yes, delete' }));
    await sms.getByLabel('Twilio: missing').waitFor();
    expect((await portal.call('GET', `/v1/workspaces/${workspaceId}/credentials`)).data.map((c: { provider: string }) => c.provider)).toEqual(['emailbison']);
    await page.context().close();
  });

  test('a read_only member sees the masks but no Save, Delete, Test connection or Email Bison buttons', async () => {
    const page = await signedIn(reader, 390);
    await openTab(page, workspaceId, 'credentials');
    const section = bison(page);
    await section.getByText(/^Current: /).waitFor();
    for (const name of ['Save', 'Delete', 'Test connection', 'Generate token', 'Sync sender emails']) {
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    }
    expect(await tokenInput(section).isDisabled()).toBe(true);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'phone-workspace-credentials', false);
    await page.context().close();
  });
});

describe('the API Logs tab', { timeout: 90_000 }, () => {
  test('the calls made above, the status filter, and Export CSV holding the filtered rows', async () => {
    const page = await signedIn(admin);
    await openTab(page, workspaceId, 'logs');
    const rows = page.getByRole('row');
    await page.getByRole('cell', { name: '/sender-emails' }).first().waitFor();
    const all = (await portal.call('GET', `/v1/workspaces/${workspaceId}/api-logs`)).data;
    // Newest first: the two sync pages, the test after the mint, the wrong key's test, the first test.
    expect(all.map((r: { endpoint: string; status_code: number }) => [r.endpoint, r.status_code])).toEqual([
      ['/sender-emails', 200], ['/sender-emails', 200], ['/users', 200], ['/users', 401], ['/users', 200],
    ]);
    expect(await rows.count()).toBe(all.length + 1);

    await page.getByRole('combobox', { name: 'Status', exact: true }).click();
    await page.getByRole('option', { name: 'HTTP 401' }).click();
    await page.waitForLoadState('networkidle');
    const failed = (await portal.call('GET', `/v1/workspaces/${workspaceId}/api-logs?status=401`)).data;
    expect(failed).toHaveLength(1);
    await expect.poll(() => rows.count()).toBe(failed.length + 1);
    const statuses = await page.locator('tbody tr td:nth-child(5)').allTextContents();
    expect(statuses).toEqual(failed.map(() => '401'));

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const csv = parse(readFileSync((await download.path())!, 'utf8'), { columns: true }) as Array<Record<string, string>>;
    expect(csv.map((r) => r.id)).toEqual(failed.map((r: { id: number }) => String(r.id)));
    expect(csv.every((r) => r.status_code === '401' && r.endpoint === '/users')).toBe(true);

    await page.getByRole('combobox', { name: 'Status', exact: true }).click();
    await page.getByRole('option', { name: 'Any status' }).click();
    await page.waitForLoadState('networkidle');
    await expect.poll(() => rows.count()).toBe(all.length + 1);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'workspace-api-logs');
    await page.context().close();
  });
});

describe('the Onboarding tab', { timeout: 90_000 }, () => {
  test('a new workspace: the missing credential is the next step, and its link opens the Credentials tab', async () => {
    const page = await signedIn(admin);
    await openTab(page, emptyWorkspaceId, 'onboarding');
    await page.getByText('0 of 5 steps done').waitFor();
    await page.getByText('Next: Store a provider credential').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.getByRole('link', { name: 'Open Credentials' }).first().click();
    await page.waitForURL(`${portal.base}/workspaces/${emptyWorkspaceId}/credentials`);
    // The URL changes a render before the tab does: wait for the tab's content, then check the tab.
    await bison(page).getByLabel('Email Bison: missing').waitFor();
    expect(await page.getByRole('tab', { name: 'Credentials' }).getAttribute('aria-selected')).toBe('true');
    await page.context().close();
  });

  test('the workspace set up above: stored, tested and synced are done; the inbound steps link to Inbound', async () => {
    const page = await signedIn(admin);
    await openTab(page, workspaceId, 'onboarding');
    await page.getByText('3 of 5 steps done').waitFor();
    expect(await page.getByRole('link', { name: 'Open Credentials' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Open Inbound' }).first().click();
    await page.waitForURL(`${portal.base}/workspaces/${workspaceId}/inbound`);
    await openTab(page, workspaceId, 'onboarding');
    await page.getByText('3 of 5 steps done').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'workspace-onboarding');
    await page.context().close();
  });
});

describe('the Overview', { timeout: 90_000 }, () => {
  test('credential coverage per provider instance: one of the two workspaces uses Agency Bison', async () => {
    const page = await signedIn(admin);
    const row = page.getByRole('row', { name: /^emailbison/ });
    await row.waitFor();
    // Client One holds an Email Bison credential on the instance, Client Two none: 1 of 2, 50 %.
    expect(await row.getByRole('cell').last().textContent()).toBe('Agency Bison: 1 (50%)');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });
});
