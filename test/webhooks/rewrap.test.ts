import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseMasterKeys } from '../../src/lib/envelope.js';
import { rewrapDataKeys } from '../../src/modules/vault/rewrap.js';
import { sealedColumnsOf } from '../../src/sealed.js';
import { createSecretReader } from '../../src/modules/webhooks/secrets.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Endpoint secrets live in the vault envelope like credentials: `vault rewrap` must move them too.
const v1 = randomBytes(32).toString('base64');
const v2 = randomBytes(32).toString('base64');
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_MASTER_KEYS: `v1:${v1}` });
});
afterAll(async () => t?.close());

test('rewrap moves webhook signing secrets, bearer tokens and custom header values to the new master key; the old key can then go', async () => {
  const { workspace } = await seedWorkspace(t);
  const created = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, {
    url: 'https://hooks.example.com/in',
    events: ['*'],
    auth_token: 'bearer-token-0123456789',
    headers: { 'x-api-key': 'header-secret-0123456789' },
  });
  expect(created.status, created.raw).toBe(201);
  const rotated = await t.call(t.adminKey, 'POST', `/v1/webhooks/${created.body.id}/rotate-secret`, {});
  expect(rotated.status, rotated.raw).toBe(200);

  const both = parseMasterKeys(`v2:${v2},v1:${v1}`);
  const report = await rewrapDataKeys(sealedColumnsOf(t.db.database.db), both);
  expect(report.failures).toEqual([]);
  expect(report.remaining).toBe(0);
  // signing, signing_previous, auth_token and the headers of this endpoint, at least
  expect(report.rewrapped).toBeGreaterThanOrEqual(4);

  const onlyNew = createSecretReader(t.db.database.db, parseMasterKeys(`v2:${v2}`));
  const secrets = await onlyNew.read(created.body.id);
  expect(secrets.signing).toEqual([rotated.body.secret, created.body.secret]);
  expect(secrets.authToken).toBe('bearer-token-0123456789');
  expect(secrets.headers).toEqual({ 'x-api-key': 'header-secret-0123456789' });

  // And the old key alone no longer opens them.
  const onlyOld = createSecretReader(t.db.database.db, parseMasterKeys(`v1:${v1}`));
  await expect(onlyOld.read(created.body.id)).rejects.toThrow();
});
