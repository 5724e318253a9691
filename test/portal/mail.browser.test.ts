import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPortal, type Portal } from '../helpers/portal.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Settings → Mail: the platform admin sees the outbox, here a password-reset email that a real SMTP
// server received, with its status; no body is on the page because the API answers none.
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

test('the platform admin sees a sent password-reset email in Settings → Mail', async () => {
  const admin = await portal.person('ops@example.com', 'Ollie Ops', { platform_admin: true });
  const rae = await portal.person('rae@example.com', 'Rae Reset');
  const page = await portal.newPage();
  await portal.signIn(page, admin);
  await page.goto(portal.base + '/settings/mail');
  const outbox = page.getByRole('region', { name: 'Mail outbox' });
  await outbox.getByRole('button', { name: 'Refresh' }).waitFor();

  const res = await fetch(portal.base + '/v1/auth/password-reset', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: rae.email }) });
  expect(res.status).toBe(202);
  const mail = await smtp.waitFor((m) => JSON.stringify(m.to).includes(rae.email));

  // The row turns to sent right after the SMTP server accepts it: Refresh until the page says so.
  const row = outbox.getByRole('row').filter({ hasText: rae.email });
  await expect.poll(async () => {
    await outbox.getByRole('button', { name: 'Refresh' }).click();
    return (await row.count()) === 1 ? (await row.textContent()) ?? '' : '';
  }, { timeout: 15_000 }).toContain('sent');
  const text = (await row.textContent()) ?? '';
  expect(text).toContain('password_reset');
  expect(text).toContain(mail.subject ?? 'no subject');
  expect(text).not.toContain('reset-password?token=');
  expect(await portal.accessibilityProblems(page)).toEqual([]);
  await portal.shot(page, 'settings-mail');
});
