import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { freePort, startPortal, type Portal } from '../helpers/portal.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

// An organization runs its own people, from end to end in a real browser: its owner, invited by
// email, joins through the organization's OpenID provider (no password of Gatehouse's); the owner invites a
// colleague, who accepts through the emailed link; both work in their workspace; once single
// sign-on is enforced, password sign-in is refused. The platform admin only sets the organization
// up. Every step is in the organization's audit trail.
let portal: Portal;
let provider: TestProvider;
let smtp: TestSmtp;

beforeAll(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  [provider, smtp] = await Promise.all([startOidcProvider([`${base}/v1/auth/sso/callback`]), startSmtp()]);
  portal = await startPortal({ GATEHOUSE_PORT: String(port), GATEHOUSE_PUBLIC_URL: base, GATEHOUSE_SMTP_URL: smtp.url });
}, 120_000);
afterAll(async () => {
  await portal?.close();
  await provider?.close();
  await smtp?.close();
});

async function linkMailedTo(email: string) {
  const message = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text === email, 30_000);
  return /http:\/\/127\.0\.0\.1:\d+\/accept-invitation\?token=\S+/.exec(message.text ?? '')![0];
}

async function acceptAs(page: Page, link: string, name: string, password: string) {
  await page.goto(link);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account and join' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

test('an owner invited by email signs in through SSO, invites a colleague who joins by the emailed link, and SSO enforcement closes passwords', async () => {
  // The platform admin sets the organization up: the workspace, its provider, the owner's invitation.
  const org = await portal.call('POST', '/v1/organizations', { name: 'Journey Ltd', plan: 'starter' });
  const ws = await portal.call('POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Journey Main' });
  await portal.call('PUT', `/v1/organizations/${org.id}/sso`, {
    issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: ['journey.test'], default_role: 'read_only', enforce: false,
  });
  await portal.call('POST', `/v1/organizations/${org.id}/invitations`, { email: 'olivia@journey.test', role: 'owner' });

  // The owner accepts the emailed link through the organization's provider: no Gatehouse password.
  const owner = await portal.newPage();
  owner.setDefaultTimeout(20_000);
  provider.account({ email: 'olivia@journey.test', name: 'Olivia Owner' });
  await owner.goto(await linkMailedTo('olivia@journey.test'));
  await owner.getByLabel('Name').fill('Olivia Owner');
  await owner.getByRole('button', { name: 'Accept and sign in with SSO' }).click();
  await owner.getByRole('navigation', { name: 'Main' }).waitFor();
  // Signing out and in again goes the same way, from the sign-in page.
  await owner.getByRole('button', { name: 'Sign out' }).click();
  await owner.getByLabel('Email', { exact: true }).fill('olivia@journey.test');
  await owner.getByRole('button', { name: 'Sign in with SSO' }).click();
  await owner.getByRole('navigation', { name: 'Main' }).waitFor();
  const me = await owner.evaluate(async () => (await fetch('/v1/auth/me')).json());
  expect(me.user).toMatchObject({ email: 'olivia@journey.test', organizations: [{ organization_id: org.id, role: 'owner' }] });

  // The owner invites a colleague from Settings → Organization.
  await owner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await owner.getByRole('tab', { name: 'Organization', exact: true }).click();
  await owner.getByRole('button', { name: 'Invite' }).click();
  const dialog = owner.getByRole('dialog');
  await dialog.getByLabel('Email').fill('carl@journey.test');
  await dialog.getByRole('button', { name: 'Send invitation' }).click();
  await owner.getByRole('status').filter({ hasText: 'Invitation sent' }).waitFor();

  // The colleague follows the emailed link in a browser of their own and works in the workspace.
  const colleague = await portal.newPage();
  colleague.setDefaultTimeout(20_000);
  await acceptAs(colleague, await linkMailedTo('carl@journey.test'), 'Carl Colleague', 'carl has a long password too');
  await colleague.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
  await colleague.getByRole('link', { name: 'Journey Main' }).click();
  await colleague.getByRole('tab', { name: 'API Keys' }).waitFor();
  const theirs = await colleague.evaluate(async () => (await fetch('/v1/auth/me')).json());
  expect(theirs.user.memberships).toEqual([{ workspace_id: ws.id, role: 'member' }]);

  // The owner makes a key in the workspace: they work there, with no platform admin involved.
  const made = await owner.evaluate(async (workspaceId) => {
    const { csrf_token } = await (await fetch('/v1/auth/me')).json();
    const res = await fetch(`/v1/workspaces/${workspaceId}/api-keys`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf_token }, body: JSON.stringify({ name: 'owner key', scopes: ['keys:read'] }) });
    return res.status;
  }, ws.id);
  expect(made).toBe(201);

  // The owner enforces single sign-on: the colleague's password no longer signs in; the platform admin's break-glass does.
  const enforced = await owner.evaluate(async ({ id, issuer, clientId }) => {
    const { csrf_token } = await (await fetch('/v1/auth/me')).json();
    const res = await fetch(`/v1/organizations/${id}/sso`, {
      method: 'PUT', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf_token },
      body: JSON.stringify({ issuer, client_id: clientId, allowed_domains: ['journey.test'], default_role: 'read_only', enforce: true }),
    });
    return res.status;
  }, { id: org.id, issuer: provider.issuer, clientId: provider.clientId });
  expect(enforced).toBe(200);
  const refused = await fetch(`${portal.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'carl@journey.test', password: 'carl has a long password too' }) });
  expect(refused.status).toBe(403);
  expect((await refused.json()).error.details.reason).toBe('sso_required');
  const admin = await portal.person('breakglass@journey.test', 'Break Glass', { platform_admin: true });
  const glass = await fetch(`${portal.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: admin.email, password: admin.password }) });
  expect(glass.status).toBe(200);

  // Every step is in the organization's trail, the organization named.
  const trail = await portal.call('GET', `/v1/audit?organization_id=${org.id}&limit=1000`);
  const actions = trail.data.map((e: { action: string }) => e.action);
  for (const action of ['invitation.created', 'invitation.accepted', 'organization.member_added', 'auth.sso_login', 'key.created']) expect(actions).toContain(action);
  expect(actions.filter((a: string) => a === 'invitation.accepted')).toHaveLength(2);
  expect(trail.data.find((e: { action: string }) => e.action === 'invitation.accepted').organization_id).toBe(org.id);
}, 180_000);
