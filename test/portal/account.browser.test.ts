import { TOTP, URI } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';

// Settings → Account in a real browser: a person's open sessions (one ended from another
// browser), and replacing a confirmed authenticator, which takes the password and a current code.
const LOCK_AFTER = 3;
// A Safari on a Mac, so the second browser's row is told apart from the test's own chromium.
const MAC_SAFARI = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15';

let portal: Portal;

beforeAll(async () => {
  portal = await startPortal({ GATEHOUSE_LOGIN_LOCK_AFTER: String(LOCK_AFTER), GATEHOUSE_LOGIN_LOCK_S: '600' });
}, 120_000);
afterAll(() => portal?.close());

const openAccount = async (page: Page) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { level: 3, name: 'Sessions' }).waitFor();
};

const sessionRows = (page: Page) => page.getByRole('table').filter({ hasText: 'Last seen' }).getByRole('row').filter({ has: page.getByRole('cell') });

/** Turns two-factor sign-in on from the Account section; the authenticator the page handed out. */
async function turnOnTwoFactor(page: Page): Promise<TOTP> {
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const totp = URI.parse((await page.getByText(/^otpauth:\/\//).textContent())!.trim()) as TOTP;
  await page.getByLabel('Code', { exact: true }).fill(totp.generate());
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByText('Two-factor sign-in is on').waitFor();
  await page.getByRole('button', { name: 'Replace authenticator' }).waitFor();
  return totp;
}

/** Sends the replace-authenticator form and waits for the answer to be on the page. */
// Settings → Account has other forms asking for the current password (change it, new recovery codes).
const replaceForm = (page: Page) => page.getByRole('form', { name: 'Replace authenticator' });

async function replaceWith(page: Page, password: string, code: string) {
  const form = replaceForm(page);
  await form.getByLabel('Current password').fill(password);
  await form.getByLabel('Current code').fill(code);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/auth/mfa/enroll')),
    form.getByRole('button', { name: 'Continue' }).click(),
  ]);
  await page.waitForFunction(() => !document.querySelector('button[data-loading]'));
  return answer.status();
}

const wrongCode = (totp: TOTP) => String((Number(totp.generate()) + 500_000) % 1_000_000).padStart(6, '0');

describe('sessions', () => {
  test('two sign-ins are listed; ending the other one signs that browser out, and this one stays', async () => {
    const sam = await portal.person('sam@example.com', 'Sam Sessions');
    const here = await portal.newPage();
    await portal.signIn(here, sam);
    const elsewhere = await (await portal.browser.newContext({ userAgent: MAC_SAFARI, reducedMotion: 'reduce' })).newPage();
    await portal.signIn(elsewhere, sam);

    await openAccount(here);
    const rows = sessionRows(here);
    await expect.poll(() => rows.count()).toBe(2);
    const mine = rows.filter({ hasText: 'This session' });
    const other = rows.filter({ hasText: 'Safari 17 on macOS' });
    expect(await mine.count()).toBe(1);
    expect(await other.count()).toBe(1);
    for (const row of [mine, other]) {
      expect(await row.textContent()).toContain('127.0.0.1');
      expect(await row.textContent()).toMatch(/UTC.*UTC/);
    }
    // This session is ended by Sign out, not from the list.
    expect(await mine.getByRole('button', { name: 'End session' }).count()).toBe(0);
    expect(await portal.accessibilityProblems(here)).toEqual([]);
    await portal.shot(here, 'settings-sessions');

    const [ended] = await Promise.all([
      here.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/v1/auth/sessions/')),
      other.getByRole('button', { name: 'End session' }).click(),
    ]);
    expect(ended.status()).toBe(204);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('This session');

    // The other browser's next call finds its session gone, and the portal shows the sign-in page.
    expect((await elsewhere.request.get(`${portal.base}/v1/auth/me`)).status()).toBe(401);
    await elsewhere.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await elsewhere.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await elsewhere.getByRole('navigation', { name: 'Main' }).count()).toBe(0);

    // This browser is still signed in.
    await here.reload();
    await here.getByRole('heading', { level: 3, name: 'Sessions' }).waitFor();
    await expect.poll(() => sessionRows(here).count()).toBe(1);
    await elsewhere.context().close();
    await here.context().close();
  }, 60_000);
});

describe('replacing the authenticator', () => {
  test('needs the password and a current code; wrong ones are refused in words; the old authenticator stops working', async () => {
    const ria = await portal.person('ria@example.com', 'Ria Replace');
    const page = await portal.newPage();
    await portal.signIn(page, ria);
    await openAccount(page);
    const old = await turnOnTwoFactor(page);

    await page.getByRole('button', { name: 'Replace authenticator' }).click();
    // Nothing to send without both: the form says what is missing.
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('Your password', { exact: true }).waitFor();
    await page.getByText('The 6 digits your current authenticator app shows').waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);

    expect(await replaceWith(page, 'not the password at all', old.generate())).toBe(401);
    await page.getByRole('alert').filter({ hasText: 'The password is not right. Nothing was changed.' }).waitFor();
    // A try clears both fields: the code is single-use, and a password does not linger in the page.
    expect(await replaceForm(page).getByLabel('Current password').inputValue()).toBe('');
    expect(await replaceForm(page).getByLabel('Current code').inputValue()).toBe('');

    expect(await replaceWith(page, ria.password, wrongCode(old))).toBe(401);
    await page.getByRole('alert').filter({ hasText: 'The code is not valid' }).waitFor();
    expect(await page.getByText(/^otpauth:\/\//).count()).toBe(0);

    // The code that turned it on is spent; the next step's code (within the drift window) is current.
    expect(await replaceWith(page, ria.password, old.generate({ timestamp: Date.now() + 30_000 }))).toBe(200);
    const next = URI.parse((await page.getByText(/^otpauth:\/\//).textContent())!.trim()) as TOTP;
    expect(next.secret.base32).not.toBe(old.secret.base32);
    await page.getByLabel('Code', { exact: true }).fill(next.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Two-factor sign-in is on with your new authenticator').waitFor();
    expect(await page.content()).not.toContain(next.secret.base32);

    // Signing in again: a code from the old authenticator is not valid, where a still-active one
    // would have signed in or been refused as already used.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email', { exact: true }).fill(ria.email);
    await page.getByLabel('Password', { exact: true }).fill(ria.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Authenticator code').fill(old.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'the code is not valid' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    await page.context().close();
  }, 90_000);

  test('too many wrong passwords lock the account, and the form says how long to wait', async () => {
    const lee = await portal.person('lee@example.com', 'Lee Locked');
    const page = await portal.newPage();
    await portal.signIn(page, lee);
    await openAccount(page);
    const totp = await turnOnTwoFactor(page);
    await page.getByRole('button', { name: 'Replace authenticator' }).click();
    for (let i = 0; i < LOCK_AFTER; i++) {
      expect(await replaceWith(page, `wrong password ${i}`, totp.generate())).toBe(401);
      await page.getByRole('alert').filter({ hasText: 'The password is not right' }).waitFor();
    }
    // Locked: even the right password and code are refused, with the wait in words.
    expect(await replaceWith(page, lee.password, totp.generate({ timestamp: Date.now() + 30_000 }))).toBe(429);
    const refusal = page.getByRole('alert').filter({ hasText: 'your account is locked for now' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/Try again in \d+ minutes?\./);
    expect(await page.getByText(/^otpauth:\/\//).count()).toBe(0);
    // The session itself is untouched by the lock: the page still works.
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(1);
    await page.context().close();
  }, 60_000);
});
