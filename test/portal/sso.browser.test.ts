import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { freePort, startPortal, type Portal } from '../helpers/portal.js';

// Single sign-on in a real browser: the sign-in page's Sign in with SSO goes to a real OpenID
// provider (oidc-provider on loopback, signing in the hinted account without a form) and comes back
// signed in; an email no organization claims comes back to the sign-in page with the reason.
let portal: Portal;
let provider: TestProvider;
let orgId: string;

beforeAll(async () => {
  // The callback is registered with the provider before the server starts, so the port is chosen here.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider([`${base}/v1/auth/sso/callback`]);
  portal = await startPortal({ GATEHOUSE_PORT: String(port), GATEHOUSE_PUBLIC_URL: base });
  const org = await portal.call('POST', '/v1/organizations', { name: 'Browser SSO', plan: 'starter' });
  orgId = org.id;
  await portal.call('PUT', `/v1/organizations/${org.id}/sso`, {
    issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: ['browser.test'],
  });
}, 120_000);
afterAll(async () => {
  await portal?.close();
  await provider?.close();
});

describe('Sign in with SSO', () => {
  test('an email of the organization signs in through its provider and lands on the portal, a new person', async () => {
    provider.account({ email: 'grace@browser.test', name: 'Grace Hopper' });
    const page = await portal.newPage();
    await page.goto(portal.base + '/');
    await page.getByLabel('Email', { exact: true }).fill('grace@browser.test');
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    const me = await page.evaluate(async () => (await fetch('/v1/auth/me')).json());
    expect(me.user).toMatchObject({ email: 'grace@browser.test', name: 'Grace Hopper', platform_admin: false });
    await portal.shot(page, 'sso-signed-in', false);
  });

  test('an email no organization signs in with comes back to the sign-in page saying so', async () => {
    const page = await portal.newPage();
    await page.goto(portal.base + '/');
    await page.getByLabel('Email', { exact: true }).fill('nobody@unclaimed.test');
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    await page.getByRole('alert').filter({ hasText: 'No organization signs in with single sign-on for this email address.' }).waitFor();
    expect(new URL(page.url()).searchParams.get('sso_error')).toBe('sso_not_configured');
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await portal.accessibilityProblems(page)).toEqual([]);
  });
});

describe('Settings → Organization → Single sign-on', () => {
  test("an owner changes the organization's domains, and a trial sign-in reports the claims without signing in", async () => {
    const owner = await portal.person('owner@browser.test', 'Olive Owner');
    await portal.call('POST', `/v1/organizations/${orgId}/members`, { user_id: owner.id, role: 'owner' });
    const page = await portal.newPage();
    await portal.signIn(page, owner);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('tab', { name: 'Organization', exact: true }).click();
    const sso = page.getByRole('region', { name: 'Single sign-on' });
    await expect.poll(() => sso.getByLabel('Issuer URL').inputValue()).toBe(provider.issuer);
    await sso.getByLabel('Email domains').fill('browser.test, second.test');
    await sso.getByRole('button', { name: 'Save single sign-on' }).click();
    await sso.getByText('Single sign-on saved.').waitFor();
    expect((await portal.call('GET', `/v1/organizations/${orgId}/sso`)).allowed_domains).toEqual(['browser.test', 'second.test']);
    // The domain the owner added waits for its DNS proof, with the record to publish; the platform admin's is proven.
    const claims = page.getByRole('table', { name: 'Single sign-on domains' });
    const second = claims.getByRole('row').filter({ hasText: 'second.test' });
    await second.getByText('Not proven').waitFor();
    await second.getByText('_gatehouse-challenge.second.test').waitFor();
    await claims.getByRole('row').filter({ hasText: 'browser.test' }).getByText('Proven (platform admin)').waitFor();
    expect(await second.getByRole('button', { name: 'Verify second.test' }).count()).toBe(1);
    expect(await portal.accessibilityProblems(page)).toEqual([]);
    await portal.shot(page, 'settings-sso');

    await sso.getByRole('button', { name: 'Test sign-in' }).click();
    const href = await sso.getByRole('link', { name: 'the trial sign-in' }).getAttribute('href');
    provider.account({ email: 'trial@second.test', name: 'Trial' });
    provider.signInAs = 'trial@second.test';
    try {
      const trial = await portal.newPage();
      await trial.goto(href!);
      await trial.getByText('"ok":true').waitFor();
      expect(await trial.textContent('body')).toContain('trial@second.test');
      // A trial may run before the proof, and says there is none yet.
      expect(await trial.textContent('body')).toContain('"domain_verified":false');
      const me = await trial.evaluate(async () => (await fetch('/v1/auth/me')).status);
      expect(me).toBe(401);
    } finally {
      provider.signInAs = null;
    }
  });
});
