import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// A credential's secrets are write-only: they come back masked, and only the code that calls the
// provider opens them. Pointing a stored credential somewhere else (its base URL, its Email Bison
// instance) while keeping the sealed secrets would send them to a server of the writer's choosing,
// where they can be read: a new destination needs the secrets given again.
let t: TestApp;
let wsId: string;
let writer: string;

beforeAll(async () => {
  t = await createTestApp();
  const ws = await seedWorkspace(t);
  wsId = ws.workspace.id;
  // A key that may write credentials and run their test, as an automation key would.
  const k = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'writer', scopes: ['credentials:write', 'credentials:read'] });
  writer = k.body.key;
});
afterAll(async () => t?.close());

const put = (provider: string, body: object) => t.call(writer, 'PUT', `/v1/workspaces/${wsId}/credentials/${provider}`, body);

describe('a credential moved to another destination', () => {
  test('the generic HTTP credential: a new base_url without the token is refused; with it, accepted', async () => {
    expect((await put('http', { base_url: 'https://api.example.com', auth_type: 'bearer', token: 'tok-secret-0123456789' })).status).toBe(200);
    const moved = await put('http', { base_url: 'https://collector.example.net' });
    expect(moved.status, moved.raw).toBe(400);
    expect(moved.body.error).toMatchObject({ code: 'validation_failed', details: { reason: 'destination_changed', missing_fields: ['token'] } });
    const list = await t.call(writer, 'GET', `/v1/workspaces/${wsId}/credentials`);
    expect(list.body.data.find((c: { provider: string }) => c.provider === 'http').fields.base_url).toBe('https://api.example.com');
    expect((await put('http', { base_url: 'https://collector.example.net', token: 'tok-other-0123456789' })).status).toBe(200);
    // Other fields still change on their own.
    expect((await put('http', { auth_type: 'header', header_name: 'x-api-key' })).status).toBe(200);
  });

  test('Twilio: an overridden base_url keeps the auth token only when it is given again', async () => {
    expect((await put('twilio', { account_sid: 'AC0123', auth_token: 'twilio-token-0123456789' })).status).toBe(200);
    const moved = await put('twilio', { base_url: 'https://collector.example.net' });
    expect(moved.status, moved.raw).toBe(400);
    expect(moved.body.error.details).toMatchObject({ reason: 'destination_changed', missing_fields: ['auth_token'] });
    // Naming the default it already uses is no move.
    expect((await put('twilio', { base_url: 'https://api.twilio.com' })).status).toBe(200);
  });
});
