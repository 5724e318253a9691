import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sourceSecrets } from '../../src/modules/inbound/secrets.js';
import { endpointSecrets } from '../../src/modules/webhooks/secrets.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// One helper over both tables: an outbound endpoint's secrets and an inbound source's.
let t: TestApp;
let ws: { id: string };
beforeAll(async () => {
  t = await createTestApp();
  ({ workspace: ws } = await seedWorkspace(t));
});
afterAll(async () => t?.close());

const newEndpoint = async () => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: 'http://127.0.0.1:9/hook', events: ['*'] });
  expect(res.status, res.raw).toBe(201);
  return res.body.id as string;
};
const newSource = async () => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/inbound-sources`, { provider: 'standard', name: `s-${Math.random()}` });
  expect(res.status, res.raw).toBe(201);
  return res.body.id as string;
};

describe.each([
  { kind: 'endpoint', secrets: endpointSecrets, table: 'webhook_endpoint_secrets', owner: 'endpoint_id', create: newEndpoint },
  { kind: 'source', secrets: sourceSecrets, table: 'inbound_source_secrets', owner: 'source_id', create: newSource },
] as const)('rotating secrets of an $kind', ({ secrets, table, owner, create }) => {
  const db = () => t.db.database.db;
  const ring = () => t.services.ring;

  test('a rotation keeps the previous secret valid until the overlap ends, then only the new one', async () => {
    const id = await create();
    await secrets.put(db(), ring(), id, 'signing', 'first-secret-0123456789abcdef');
    const until = new Date(Date.now() + 3600_000);
    await secrets.retire(db(), id, until);
    await secrets.put(db(), ring(), id, 'signing', 'second-secret-0123456789abcdef');

    const during = await secrets.open(db(), ring(), id);
    expect(during.signing).toEqual(['second-secret-0123456789abcdef', 'first-secret-0123456789abcdef']);
    expect(during.validUntil).toBe(until.getTime());
    expect((await secrets.masks(db(), id))('signing_previous')?.expires_at?.getTime()).toBe(until.getTime());

    const after = await secrets.open(db(), ring(), id, until.getTime() + 1);
    expect(after.signing).toEqual(['second-secret-0123456789abcdef']);
    expect(after.validUntil).toBe(Infinity);
  });

  test('a rotation without overlap drops the old secret at once', async () => {
    const id = await create();
    await secrets.put(db(), ring(), id, 'signing', 'old-secret-0123456789abcdef');
    await secrets.retire(db(), id, null);
    expect((await secrets.open(db(), ring(), id)).signing).toEqual([]);
    expect((await secrets.masks(db(), id))('signing')).toBeUndefined();
  });

  test("a sealed secret copied to another owner's row does not open there", async () => {
    const [a, b] = [await create(), await create()];
    await secrets.put(db(), ring(), a, 'signing', 'secret-of-a-0123456789abcdef');
    await secrets.put(db(), ring(), b, 'signing', 'secret-of-b-0123456789abcdef');
    await sql`update ${sql.table(table)} set (master_version, wrapped_key, ciphertext) =
      (select master_version, wrapped_key, ciphertext from ${sql.table(table)} where ${sql.ref(owner)} = ${a} and purpose = 'signing')
      where ${sql.ref(owner)} = ${b} and purpose = 'signing'`.execute(db());
    await expect(secrets.open(db(), ring(), b)).rejects.toThrow();
  });
});
