import { readFileSync, writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The API types of the SDK and the portal (one file, sdk/src/schema.ts) come from the server's own
// OpenAPI document, never copied by hand. `npm run gen:api-types` rewrites them; this test fails while
// the committed file is stale.
const FILE = `${ROOT}sdk/src/schema.ts`;
const HEADER = '// Generated from /openapi.json by `npm run gen:api-types`; do not edit.\n';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

test('the API types of the SDK and the portal match the OpenAPI document', async () => {
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const generated = HEADER + astToString(await openapiTS(doc));
  if (process.env.UPDATE_API_TYPES) writeFileSync(FILE, generated);
  expect(readFileSync(FILE, 'utf8'), 'sdk/src/schema.ts is stale: run npm run gen:api-types').toBe(generated);
});
