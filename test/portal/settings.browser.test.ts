import { randomBytes } from 'node:crypto';
import { TOTP, URI } from 'otpauth';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';

// The Settings page in a real browser: two-factor sign-in, lockout, and the admin sections
// (instances, organizations, members, bulk import), each scanned by axe.
const LOCK_AFTER = 3;
// Long enough that the attempt after the lock, one scrypt derivation on a busy machine, lands inside it.
const LOCK_S = 10;

let portal: Portal;
let admin: Person;
let north: { org: { id: string }; ws: { id: string } };

beforeAll(async () => {
  portal = await startPortal({ GATEHOUSE_LOGIN_LOCK_AFTER: String(LOCK_AFTER), GATEHOUSE_LOGIN_LOCK_S: String(LOCK_S) });
  admin = await portal.person('olga@example.com', 'Olga Operator', { platform_admin: true });
  const org = await portal.call('POST', '/v1/organizations', { name: 'Northwind', plan: 'starter' });
  north = { org, ws: await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'North One' }) };
}, 120_000);
afterAll(() => portal?.close());

const settings = async (page: Page, section: string) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('tab', { name: section }).click();
  await page.waitForLoadState('networkidle');
};

/** Mantine's Select: open it by its label, then pick the option. */
const choose = async (page: Page, label: string, option: string, within: Page | Locator = page) => {
  await within.getByRole('combobox', { name: label, exact: true }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
};

async function signInExpectingAlert(page: Page, who: Person, password: string) {
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/auth/login')), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  // The answer is in; wait for the page to have rendered it (the button stops loading).
  await page.waitForFunction(() => !document.querySelector('button[data-loading]'));
  return (await page.getByRole('alert').textContent()) ?? '';
}

describe('two-factor sign-in', () => {
  test('enroll, sign out, then sign-in asks for the code: a wrong one is refused, the right one accepted', async () => {
    const ed = await portal.person('ed@example.com', 'Ed Enrol');
    const page = await portal.newPage();
    await portal.signIn(page, ed);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const url = (await page.getByText(/^otpauth:\/\//).textContent())!.trim();
    const totp = URI.parse(url) as TOTP;
    expect(totp.label).toBe(ed.email);
    await page.getByLabel('Code', { exact: true }).fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Two-factor sign-in is on').waitFor();
    // The secret served its purpose: it is no longer on the page.
    expect(await page.content()).not.toContain(totp.secret.base32);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await signInExpectingAlert(page, ed, ed.password)).toContain('enter the 6-digit code');
    const codeField = page.getByLabel('Authenticator code');
    const right = totp.generate();
    await codeField.fill(String((Number(right) + 500_000) % 1_000_000).padStart(6, '0'));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'the code is not valid' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    // The code that turned it on is spent; the next step's code (within the drift window) signs in.
    await codeField.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect((await portal.call('GET', '/v1/users')).data.find((u: { id: string }) => u.id === ed.id).mfa_enabled).toBe(true);
    await page.context().close();
  }, 60_000);

  test('an organization requiring it sends a member without it to the enrollment page, whatever they open', async () => {
    const org = await portal.call('POST', '/v1/organizations', { name: 'Strict Co', plan: 'starter' });
    const ws = await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Strict One' });
    const mia = await portal.person('mia@example.com', 'Mia Member');
    await portal.call('POST', `/v1/workspaces/${ws.id}/members`, { user_id: mia.id, role: 'member' });
    await portal.call('PATCH', `/v1/organizations/${org.id}`, { mfa_required: true });
    const page = await portal.newPage();
    await portal.signIn(page, mia);
    await page.getByText('Required by your organization').waitFor();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).waitFor();
    await page.goto(portal.base + '/workspaces');
    await page.getByRole('heading', { level: 2, name: 'Settings' }).waitFor();
    await page.getByText('Required by your organization').waitFor();
    expect(await page.getByRole('heading', { level: 2, name: 'Workspaces' }).count()).toBe(0);
    expect(await page.getByRole('tab').count()).toBe(0);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await page.context().close();
  });
});

test('lockout: repeated wrong passwords lock the account; the right one is refused until the lock ends', async () => {
  const lou = await portal.person('lou@example.com', 'Lou Locked');
  const page = await portal.newPage();
  await page.goto(portal.base + '/');
  for (let i = 0; i < LOCK_AFTER; i++) expect(await signInExpectingAlert(page, lou, 'not the password at all')).toContain('wrong email or password');
  // The lock was set before the last refusal's answer came: it ends by LOCK_S from now.
  const lockEndsBy = Date.now() + LOCK_S * 1000;
  const locked = await signInExpectingAlert(page, lou, lou.password);
  expect(locked).toContain('locked');
  expect(locked).toMatch(/Try again in \d+ seconds?\./);
  expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
  // An attempt during the lock does not extend it: once the first lock is over, the password works.
  await new Promise((r) => setTimeout(r, lockEndsBy - Date.now() + 500));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.context().close();
}, 60_000);

describe('admin sections', () => {
  test('every section passes axe, at desktop and phone width', async () => {
    for (const width of [1280, 390]) {
      const page = await portal.newPage(width);
      await portal.signIn(page, admin);
      for (const section of ['account', 'instances', 'organizations', 'users', 'members', 'import']) {
        await page.goto(`${portal.base}/settings/${section}`);
        await page.getByRole('tab', { selected: true }).waitFor();
        await page.waitForLoadState('networkidle');
        expect(await portal.accessibilityProblems(page), `${section} at ${width}`).toEqual([]);
        // Nothing wider than the screen: tables scroll inside themselves.
        expect(await page.evaluate(() => document.documentElement.scrollWidth), `${section} at ${width}`).toBeLessThanOrEqual(width);
      }
      await page.context().close();
    }
  }, 120_000);

  test('an instance is created and its admin credential set; the key is never shown again', async () => {
    const secret = `ebadmin_${randomBytes(16).toString('hex')}`;
    const page = await portal.newPage();
    await portal.signIn(page, admin);
    await settings(page, 'Provider instances');
    await choose(page, 'Provider', 'Email Bison');
    await page.getByLabel('Instance name').fill('Agency One Bison');
    await page.getByLabel('Base URL').fill('https://send.agency-one.example/api');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await page.getByRole('cell', { name: 'Agency One Bison', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Set admin credential of Agency One Bison' }).click();
    const field = page.getByLabel('Admin API key');
    expect(await field.inputValue()).toBe('');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await field.fill(secret);
    await page.getByRole('button', { name: 'Save credential' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    const [inst] = (await portal.call('GET', '/v1/instances')).data.filter((i: { name: string }) => i.name === 'Agency One Bison');
    expect(inst.admin_credential.set).toBe(true);
    await page.getByText(inst.admin_credential.mask).waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(await page.content()).not.toContain(secret.slice(4, -4));
    // Reopened, the field is empty again: the key is not kept anywhere in the page.
    await page.getByRole('button', { name: 'Replace admin credential of Agency One Bison' }).click();
    expect(await page.getByLabel('Admin API key').inputValue()).toBe('');
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    expect(await page.content()).not.toContain(secret);
    await page.context().close();
  });

  test("an organization's plan and seats change, and its MFA requirement", async () => {
    const page = await portal.newPage();
    await portal.signIn(page, admin);
    await settings(page, 'Organizations');
    await page.getByRole('button', { name: 'Plan and seats of Northwind' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await choose(page, 'Plan', 'Professional', dialog);
    await dialog.getByLabel(/^Seats/).fill('25');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'Northwind' });
    await row.getByText('of 25 seats').waitFor();
    await row.getByText('Professional').waitFor();
    expect(await portal.call('GET', `/v1/organizations/${north.org.id}`)).toMatchObject({ plan: 'professional', seat_limit: 25, mfa_required: false });
    const mfa = page.getByRole('switch', { name: 'MFA required in Northwind' });
    await mfa.click({ force: true });
    await expect.poll(async () => (await portal.call('GET', `/v1/organizations/${north.org.id}`)).mfa_required).toBe(true);
    await expect.poll(() => mfa.isEnabled()).toBe(true);
    expect(await mfa.isChecked()).toBe(true);
    await mfa.click({ force: true });
    await expect.poll(async () => (await portal.call('GET', `/v1/organizations/${north.org.id}`)).mfa_required).toBe(false);
    await expect.poll(() => mfa.isEnabled()).toBe(true);
    expect(await mfa.isChecked()).toBe(false);
    await portal.shot(page, 'settings');
    await page.context().close();
  });

  test("a member is added with a role, the role changed, and the seat limit's refusal is readable", async () => {
    const pat = await portal.person('pat@example.com', 'Pat Partner');
    const page = await portal.newPage();
    await portal.signIn(page, admin);
    await settings(page, 'Members');
    await choose(page, 'Workspace', 'North One');
    await choose(page, 'Person', 'Pat Partner <pat@example.com>');
    await choose(page, 'Role', 'Manager');
    await page.getByRole('button', { name: 'Add member' }).click();
    const role = page.getByRole('combobox', { name: 'Role of pat@example.com' });
    await role.waitFor();
    expect(await role.inputValue()).toBe('Manager');
    await role.click();
    await page.getByRole('option', { name: 'Read only', exact: true }).click();
    await expect.poll(async () => (await portal.call('GET', `/v1/workspaces/${north.ws.id}/members`)).data.find((m: { user_id: string }) => m.user_id === pat.id)?.role).toBe('read_only');

    // A full organization: one seat, taken; the next person is refused with the numbers.
    const tiny = await portal.call('POST', '/v1/organizations', { name: 'Tiny Ltd', plan: 'free', seat_limit: 1 });
    await portal.call('POST', `/v1/organizations/${tiny.id}/workspaces`, { name: 'Tiny One' });
    await page.reload();
    await choose(page, 'Workspace', 'Tiny One');
    await choose(page, 'Person', 'Pat Partner <pat@example.com>');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('combobox', { name: 'Role of pat@example.com' }).waitFor();
    await choose(page, 'Person', 'Olga Operator <olga@example.com>');
    await page.getByRole('button', { name: 'Add member' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'No seat left' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('1 of 1 seats are taken');

    // Removing asks first, then frees the seat.
    await page.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await page.getByText('Nothing here yet').waitFor();
    expect((await portal.call('GET', '/v1/organizations')).data.find((o: { id: string }) => o.id === tiny.id).seats_used).toBe(0);
    await page.context().close();
  });

  test('a CSV import shows its per-row report; a bad row stops the file; no secret is shown', async () => {
    const good = { sid: `AC${randomBytes(16).toString('hex')}`, token: `twtok_${randomBytes(16).toString('hex')}` };
    const bad = { sid: `AC${randomBytes(16).toString('hex')}`, token: `twtok_${randomBytes(16).toString('hex')}` };
    const header = 'workspace_id,provider,name,account_sid,auth_token';
    const page = await portal.newPage();
    await portal.signIn(page, admin);
    await settings(page, 'Bulk import');
    await page.getByLabel('Or paste the CSV').fill(`${header}\n${north.ws.id},twilio,main,${good.sid},${good.token}\nws_nope,twilio,main,${bad.sid},${bad.token}\n`);
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByText('Nothing imported: 1 of 2 rows have a problem').waitFor();
    const rows = page.getByRole('row');
    expect(await rows.nth(1).textContent()).toMatch(/^2.*twilio.*ok/);
    expect(await rows.nth(2).textContent()).toMatch(/^3ws_nopetwilioerror.*workspace not found/);
    const html = await page.content();
    for (const s of [good.token, bad.token]) expect(html).not.toContain(s);
    expect(await page.getByLabel('Or paste the CSV').inputValue()).toBe('');
    expect((await portal.call('GET', `/v1/workspaces/${north.ws.id}/credentials`)).data).toEqual([]);
    await portal.shot(page, 'settings-import');

    // The good row alone lands.
    await page.getByLabel('Or paste the CSV').fill(`${header}\n${north.ws.id},twilio,main,${good.sid},${good.token}\n`);
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByText('Imported 1 credential.').waitFor();
    expect(await page.content()).not.toContain(good.token);
    const [cred] = (await portal.call('GET', `/v1/workspaces/${north.ws.id}/credentials`)).data;
    expect(cred).toMatchObject({ provider: 'twilio', fields: { account_sid: good.sid } });
    await page.context().close();
  });
});
