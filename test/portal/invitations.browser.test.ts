import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPortal, type Person, type Portal } from '../helpers/portal.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Invitations end to end in a real browser: an organization's owner invites with Invite, the
// email arrives at a local SMTP server (or, with none configured, the link is shown to the
// owner), and the invited person follows the link, joins and sees the organization's workspaces.

interface Setting { portal: Portal; org: { id: string; name: string }; owner: Person & { id: string } }

async function organizationWithOwner(portal: Portal, name: string, ownerEmail: string): Promise<Setting> {
  const org = await portal.call('POST', '/v1/organizations', { name, plan: 'starter' });
  await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: `${name} Beacon` });
  const owner = await portal.person(ownerEmail, 'Olive Owner');
  await portal.call('POST', `/v1/organizations/${org.id}/members`, { user_id: owner.id, role: 'owner' });
  return { portal, org, owner };
}

async function openOrganization(s: Setting, page: Page) {
  await s.portal.signIn(page, s.owner);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('tab', { name: 'Organization', exact: true }).click();
  await page.getByRole('region', { name: 'Invitations' }).waitFor();
}

/** Invite, fill the form (the role left as Member) and send. */
async function invite(page: Page, email: string) {
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Email', { exact: true }).fill(email);
  await dialog.getByRole('button', { name: 'Send invitation' }).click();
  return dialog;
}

const invitationRow = (page: Page, email: string) => page.getByRole('region', { name: 'Invitations' }).getByRole('row').filter({ hasText: email });

describe('with an SMTP server', () => {
  let s: Setting;
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
    const portal = await startPortal({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_MAIL_FROM: 'Gatehouse <gatehouse@example.com>' }, { publicUrlIsBase: true });
    s = await organizationWithOwner(portal, 'Lighthouse Co', 'olive@lighthouse.example');
  }, 120_000);
  afterAll(async () => {
    await s?.portal.close();
    await smtp?.close();
  });

  const linkIn = async (to: string) => {
    const mail = await smtp.waitFor((m) => JSON.stringify(m.to).includes(to));
    const link = /https?:\/\/\S+\/accept-invitation\?token=\S+/.exec(mail.text ?? '')?.[0];
    expect(link, mail.text).toBeDefined();
    return link!;
  };

  test('the invited colleague follows the emailed link, sets a name and password, lands signed in among the workspaces; the owner changes their role', async () => {
    const page = await s.portal.newPage();
    await openOrganization(s, page);
    const dialog = await invite(page, 'nia@lighthouse.example');
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'An email with the link is on its way to nia@lighthouse.example' }).waitFor();
    await invitationRow(page, 'nia@lighthouse.example').getByText('Pending').waitFor();
    // No link on the inviter's page when it went by email.
    expect(await page.getByTestId('invitation-link').count()).toBe(0);
    const link = await linkIn('nia@lighthouse.example');
    expect(link.startsWith(`${s.portal.base}/accept-invitation?token=`)).toBe(true);

    const theirs = await s.portal.newPage();
    await theirs.goto(link);
    await theirs.getByText('You are invited to').filter({ hasText: 'Lighthouse Co' }).waitFor();
    await theirs.getByText('nia@lighthouse.example').waitFor();
    expect(await s.portal.accessibilityProblems(theirs)).toEqual([]);
    await theirs.getByLabel('Name', { exact: true }).fill('Nia Newcomer');
    await theirs.getByLabel('Password', { exact: true }).fill('too short');
    await theirs.getByRole('button', { name: 'Create account and join' }).click();
    await theirs.getByText('Use at least 12 characters').waitFor();
    await theirs.getByLabel('Password', { exact: true }).fill('a long password for Nia');
    await theirs.getByRole('button', { name: 'Create account and join' }).click();
    await theirs.getByRole('navigation', { name: 'Main' }).waitFor();
    await theirs.getByRole('heading', { level: 2, name: 'Workspaces' }).waitFor();
    await theirs.getByText('Lighthouse Co Beacon').first().waitFor();
    expect(theirs.url()).toBe(`${s.portal.base}/workspaces`);

    // The link worked once: opened again, it says it was used.
    const again = await s.portal.newPage();
    await again.goto(link);
    await again.getByRole('alert').filter({ hasText: 'This invitation has already been used' }).waitFor();
    await again.context().close();

    // The outbox marks the email sent once the SMTP server has taken it.
    await expect.poll(async () => (await s.portal.call('GET', `/v1/organizations/${s.org.id}/invitations`)).data[0].mail_status).toBe('sent');
    await page.reload();
    await page.getByRole('tab', { name: 'Organization', exact: true, selected: true }).waitFor();
    await invitationRow(page, 'nia@lighthouse.example').getByText('Accepted').waitFor();
    await invitationRow(page, 'nia@lighthouse.example').getByText('Sent').waitFor();
    const members = page.getByRole('region', { name: 'Members' });
    const role = members.getByRole('combobox', { name: 'Organization role of nia@lighthouse.example' });
    expect(await role.inputValue()).toBe('Member');
    await role.click();
    await page.getByRole('option', { name: 'Read only', exact: true }).click();
    await page.getByRole('dialog', { name: 'Make Nia Newcomer Read only?' }).getByRole('button', { name: 'Change role' }).click();
    await expect.poll(() => role.inputValue()).toBe('Read only');
    const listed = await s.portal.call('GET', `/v1/organizations/${s.org.id}/members`);
    expect(listed.data.find((m: { email: string }) => m.email === 'nia@lighthouse.example').role).toBe('read_only');
    await s.portal.shot(page, 'organization');
    await theirs.context().close();
    await page.context().close();
  }, 120_000);

  test("a revoked invitation's link says it was revoked", async () => {
    const page = await s.portal.newPage();
    await openOrganization(s, page);
    await (await invite(page, 'rex@lighthouse.example')).waitFor({ state: 'detached' });
    const link = await linkIn('rex@lighthouse.example');
    const row = invitationRow(page, 'rex@lighthouse.example');
    await row.getByRole('button', { name: 'Revoke the invitation to rex@lighthouse.example' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke the invitation to rex@lighthouse.example?' });
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await confirm.waitFor({ state: 'detached' });
    await row.getByText('Revoked').waitFor();
    expect(await row.getByRole('button', { name: /^Resend/ }).count()).toBe(0);

    const theirs = await s.portal.newPage();
    await theirs.goto(link);
    await theirs.getByRole('alert').filter({ hasText: 'This invitation was revoked' }).waitFor();
    expect(await theirs.getByRole('button', { name: 'Create account and join' }).count()).toBe(0);
    expect(await s.portal.accessibilityProblems(theirs)).toEqual([]);
    // A link that is no invitation at all says so too.
    await theirs.goto(`${s.portal.base}/accept-invitation?token=ghi_${'x'.repeat(40)}`);
    await theirs.getByRole('alert').filter({ hasText: 'This invitation link is not valid' }).waitFor();
    await theirs.context().close();
    await page.context().close();
  }, 90_000);
});

describe('without an SMTP server', () => {
  let s: Setting;
  beforeAll(async () => {
    s = await organizationWithOwner(await startPortal({}, { publicUrlIsBase: true }), 'Quay Labs', 'olive@quay.example');
  }, 120_000);
  afterAll(() => s?.portal.close());

  test('the inviter is shown the link to copy; an existing account accepts it, then signs in and sees the workspaces', async () => {
    const known = await s.portal.person('kim@quay.example', 'Kim Known');
    const page = await s.portal.newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.portal.base });
    await openOrganization(s, page);
    const dialog = await invite(page, known.email);
    const shown = dialog.getByTestId('invitation-link');
    await shown.waitFor();
    const link = (await shown.textContent())!.trim();
    expect(link.startsWith(`${s.portal.base}/accept-invitation?token=ghi_`)).toBe(true);
    expect(await s.portal.accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Copy link' }).click();
    await dialog.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await invitationRow(page, known.email).getByText('No email (link shown)').waitFor();

    const theirs = await s.portal.newPage();
    await theirs.goto(link);
    await theirs.getByText('You already have a Gatehouse account').waitFor();
    expect(await theirs.getByLabel('Password', { exact: true }).count()).toBe(0);
    // Whoever holds the link is not enough: the account's own password is asked.
    await theirs.getByLabel('Your password').fill('not the password of kim');
    await theirs.getByRole('button', { name: 'Accept', exact: true }).click();
    await theirs.getByText('wrong email or password').waitFor();
    await theirs.getByLabel('Your password').fill(known.password);
    await theirs.getByRole('button', { name: 'Accept', exact: true }).click();
    await theirs.getByRole('status').filter({ hasText: 'Sign in as kim@quay.example' }).waitFor();
    await theirs.getByRole('link', { name: 'Go to sign in' }).click();
    await s.portal.signIn(theirs, known);
    await theirs.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await theirs.getByText('Quay Labs Beacon').first().waitFor();
    await theirs.context().close();
    await page.context().close();
  }, 120_000);
});
