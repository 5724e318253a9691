import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { startDns, type TestDns } from '../helpers/dns.js';
import type { TestProvider } from '../helpers/oidc-provider.js';
import { PERSON_PASSWORD, signIn, type SessionCall } from '../helpers/people.js';
import { auditOf, ssoSignIn, startProvider, startSso, PUBLIC_URL } from '../helpers/sso.js';

// A domain sends sign-ins to an organization's provider only once proven: a TXT record in its DNS
// (asked of a real DNS server on loopback) or the platform admin's word. Until then a claim routes
// nobody, so an organization cannot point another's people at a provider it runs.
let t: TestApp;
let dns: TestDns;
let provider: TestProvider;
let org: { id: string };
let owner: SessionCall;

beforeAll(async () => {
  dns = await startDns();
  provider = await startProvider();
  t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_DNS_SERVERS: dns.server, GATEHOUSE_LOGIN_IP_LIMIT: '1000', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000' });
  org = (await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'Proof Ltd', plan: 'starter' })).body;
  const person = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'olga@owner.test', name: 'Olga', password: PERSON_PASSWORD });
  expect((await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/members`, { user_id: person.body.id, role: 'owner' })).status).toBeLessThan(300);
  owner = await signIn(t, 'olga@owner.test');
}, 60_000);
afterAll(async () => {
  await provider?.close();
  await t?.close();
  await dns?.close();
});

const config = (domains: string[]) => ({ issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: domains });

describe('a domain claimed by an organization', () => {
  test('routes nobody until its TXT record holds the challenge; then its people sign in through the provider', async () => {
    const put = await owner('PUT', `/v1/organizations/${org.id}/sso`, config(['proof.test']));
    expect(put.status, put.raw).toBe(200);
    const [claim] = put.body.domains;
    expect(claim).toMatchObject({ domain: 'proof.test', verified: false, verified_at: null, txt_record: { name: '_gatehouse-challenge.proof.test' } });
    expect(claim.txt_record.value).toMatch(/^gatehouse-domain-verification=[A-Za-z0-9_-]{20,}$/);

    // Unproven, the claim sends nobody anywhere: the start answers as for a domain nobody claims.
    provider.account({ email: 'pia@proof.test' });
    const early = await startSso(t, 'pia@proof.test');
    expect(early.res.statusCode).toBe(404);
    expect(JSON.parse(early.res.body).error.details).toMatchObject({ reason: 'sso_not_configured' });

    const verify = () => owner('POST', `/v1/organizations/${org.id}/sso/domains/proof.test/verify`);
    const none = await verify();
    expect(none.status).toBe(409);
    expect(none.body.error.details).toMatchObject({ reason: 'domain_not_proven', records_found: 0, txt_record: claim.txt_record });
    expect(dns.asked(claim.txt_record.name)).toBeGreaterThan(0);

    // Another value at the name is not the challenge.
    dns.publish(claim.txt_record.name, 'gatehouse-domain-verification=someone-elses-challenge');
    const wrong = await verify();
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.details).toMatchObject({ reason: 'domain_not_proven', records_found: 1 });

    dns.publish(claim.txt_record.name, claim.txt_record.value);
    const proven = await verify();
    expect(proven.status, proven.raw).toBe(200);
    expect(proven.body).toMatchObject({ domain: 'proof.test', verified: true, verified_by: 'dns', txt_record: null });
    expect((await auditOf(t, 'sso.domain_verified')).at(-1)).toMatchObject({ resource_id: org.id, after: { domain: 'proof.test', verified_by: 'dns' } });

    const signedIn = await ssoSignIn(t, 'pia@proof.test');
    expect(signedIn.location).toBe('/');
    expect(signedIn.session).toBeDefined();
  });

  test('a proof is kept when the configuration is saved again; a domain added waits for its own', async () => {
    const put = await owner('PUT', `/v1/organizations/${org.id}/sso`, { ...config(['proof.test', 'second.test']), client_secret: undefined });
    expect(put.status, put.raw).toBe(200);
    expect(put.body.allowed_domains).toEqual(['proof.test', 'second.test']);
    expect(put.body.domains.map((d: { domain: string; verified: boolean }) => [d.domain, d.verified])).toEqual([['proof.test', true], ['second.test', false]]);
    provider.account({ email: 'sam@second.test' });
    expect((await startSso(t, 'sam@second.test')).res.statusCode).toBe(404);
  });

  test("the platform admin's word proves a domain, without DNS; others of the organization below admin cannot verify", async () => {
    const member = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'max@owner.test', name: 'Max', password: PERSON_PASSWORD });
    await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/members`, { user_id: member.body.id, role: 'member' });
    const plain = await signIn(t, 'max@owner.test');
    expect((await plain('POST', `/v1/organizations/${org.id}/sso/domains/second.test/verify`)).status).toBe(403);

    const asked = dns.asked('_gatehouse-challenge.second.test');
    const word = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/sso/domains/second.test/verify`);
    expect(word.status, word.raw).toBe(200);
    expect(word.body).toMatchObject({ verified: true, verified_by: 'platform_admin' });
    expect(dns.asked('_gatehouse-challenge.second.test')).toBe(asked);
    expect((await startSso(t, 'sam@second.test')).res.statusCode).toBe(302);

    // Domains the platform admin names in a configuration are proven as they are saved.
    const other = (await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'Operated', plan: 'starter' })).body;
    const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${other.id}/sso`, config(['operated.test']));
    expect(put.body.domains).toEqual([expect.objectContaining({ domain: 'operated.test', verified: true, verified_by: 'platform_admin', txt_record: null })]);
    // An unknown domain of the organization is a 404, and another organization's claim is not reachable through this one.
    expect((await owner('POST', `/v1/organizations/${org.id}/sso/domains/operated.test/verify`)).status).toBe(404);
  });
});
