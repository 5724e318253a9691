import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decryptSecret, parseMasterKeys, type Sealed } from '../../src/lib/envelope.js';
import { ssoSealedColumns } from '../../src/modules/sso/sealed.js';
import { ssoBinding } from '../../src/modules/sso/types.js';
import { rewrapDataKeys } from '../../src/modules/vault/rewrap.js';
import { sealedColumnsOf } from '../../src/sealed.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import type { TestProvider } from '../helpers/oidc-provider.js';
import { PUBLIC_URL, ssoOrganization, startProvider } from '../helpers/sso.js';

// The SSO client secret is sealed like every other secret: bound to its organization, moved by
// `vault rewrap` to a new master key, which alone then opens it.
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
let t: TestApp;
let provider: TestProvider;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_MASTER_KEYS: `v1:${K1}` });
  provider = await startProvider();
}, 60_000);
afterAll(async () => {
  await provider?.close();
  await t?.close();
});

const rowOf = async (organizationId: string) =>
  (await sql<Sealed & { organization_id: string }>`select organization_id, master_version, wrapped_key, ciphertext from sso_configs where organization_id = ${organizationId}`.execute(t.db.database.db)).rows[0];

test('is bound to its organization: the ciphertext does not open as another organization\'s', async () => {
  const a = await ssoOrganization(t, provider, 'bound-a.test');
  const row = await rowOf(a.id);
  const ring = parseMasterKeys(`v1:${K1}`);
  expect(decryptSecret(ring, row, ssoBinding(a.id))).toBe(provider.clientSecret);
  expect(() => decryptSecret(ring, row, ssoBinding('org_someone_else'))).toThrow();
  expect(sealedColumnsOf(t.db.database.db).map((c) => c.table)).toContain('sso_configs');
});

test('vault rewrap moves it to the new master key, which alone then opens it', async () => {
  const org = await ssoOrganization(t, provider, 'rewrap.test');
  const both = parseMasterKeys(`v2:${K2},v1:${K1}`);
  const columns = ssoSealedColumns(t.db.database.db);
  const report = await rewrapDataKeys([columns], both);
  expect(report).toMatchObject({ active: 'v2', failures: [], remaining: 0 });
  expect(report.rewrapped).toBeGreaterThanOrEqual(1);
  const row = await rowOf(org.id);
  expect(row.master_version).toBe('v2');
  expect(decryptSecret(parseMasterKeys(`v2:${K2}`), row, ssoBinding(org.id))).toBe(provider.clientSecret);
});
