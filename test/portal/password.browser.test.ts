import { TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Portal } from '../helpers/portal.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

// A forgotten password reset through the emailed link in a real browser, with the email read from a
// real SMTP server; and, in Settings → Account, a password change and the recovery codes shown once.
let portal: Portal;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
  portal = await startPortal({ GATEHOUSE_SMTP_URL: smtp.url });
}, 120_000);
afterAll(async () => {
  await portal?.close();
  await smtp?.close();
});

describe('password reset', () => {
  test('forgot password → emailed link → new password → signed in with it', async () => {
    const rae = await portal.person('rae@example.com', 'Rae Reset');
    const page = await portal.newPage();
    await page.goto(portal.base + '/');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByLabel('Email', { exact: true }).fill(rae.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('status').filter({ hasText: 'emailed' }).waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);

    const mail = await smtp.waitFor((m) => JSON.stringify(m.to).includes(rae.email));
    const link = new URL(/https?:\/\/\S+\/reset-password\?token=[A-Za-z0-9_-]+/.exec(mail.text ?? '')?.[0] ?? 'http://missing/');
    expect(link.pathname).toBe('/reset-password');
    // The link is built on GATEHOUSE_PUBLIC_URL (here http://localhost:<port>); the test's server listens on 127.0.0.1.
    await page.goto(portal.base + link.pathname + link.search);
    const newPassword = 'a fresh password from the link';
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Repeat new password').fill(newPassword);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('Your password is set').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'password-reset');

    await page.getByRole('link', { name: 'Sign in' }).click();
    await portal.signIn(page, { email: rae.email, password: newPassword });
    expect(await page.getByText(rae.email).count()).toBeGreaterThan(0);

    // The link worked once.
    await page.goto(portal.base + link.pathname + link.search);
    await page.getByLabel('New password', { exact: true }).fill('yet another fresh password');
    await page.getByLabel('Repeat new password').fill('yet another fresh password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('alert').filter({ hasText: 'used already' }).waitFor();
  });
});

describe('Settings → Account', () => {
  test('changing the password, and the recovery codes shown once two-factor sign-in is on', async () => {
    const cam = await portal.person('cam@example.com', 'Cam Change');
    const page = await portal.newPage();
    await portal.signIn(page, cam);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 3, name: 'Password' }).waitFor();

    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill(cam.password);
    await form.getByLabel('New password', { exact: true }).fill('a changed long password');
    await form.getByLabel('Repeat new password').fill('a changed long password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();

    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const totp = URI.parse((await page.getByText(/^otpauth:\/\//).textContent())?.trim() ?? '') as TOTP;
    await page.getByLabel('Code', { exact: true }).fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Two-factor sign-in is on').waitFor();
    const codes = (await page.getByText(/^[0-9a-z]{5}-[0-9a-z]{5}/).textContent())?.trim().split('\n') ?? [];
    expect(codes).toHaveLength(10);
    expect(await portal.accessibilityProblems(page)).toEqual([]);

    // One of them signs in instead of the authenticator code.
    const other = await portal.newPage();
    await other.goto(portal.base + '/');
    await other.getByLabel('Email', { exact: true }).fill(cam.email);
    await other.getByLabel('Password', { exact: true }).fill('a changed long password');
    await other.getByRole('button', { name: 'Sign in', exact: true }).click();
    await other.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await other.getByLabel('Recovery code').fill(codes[0] ?? '');
    await other.getByRole('button', { name: 'Sign in', exact: true }).click();
    await other.getByRole('navigation', { name: 'Main' }).waitFor();

    // New recovery codes, behind the password and a code (of the next step: the one used above is spent).
    await page.getByRole('button', { name: 'New recovery codes' }).click();
    const renew = page.getByRole('form', { name: 'New recovery codes' });
    await renew.getByLabel('Current password').fill('a changed long password');
    await renew.getByLabel('Current code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await renew.getByRole('button', { name: 'Get new codes' }).click();
    await page.getByRole('status').filter({ hasText: 'New recovery codes' }).waitFor();
    const fresh = (await page.getByText(/^[0-9a-z]{5}-[0-9a-z]{5}/).textContent())?.trim().split('\n') ?? [];
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(codes[1]);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
  });
});
