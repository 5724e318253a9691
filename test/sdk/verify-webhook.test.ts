import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import { signatureHeaders } from '../../src/modules/webhooks/signing.js';
import { verifyWebhook, WebhookVerificationError, type WebhookVerificationCode } from '../../sdk/src/index.js';

// verifyWebhook against the reference library (standardwebhooks) and Gatehouse's own signer.
const secretOf = (bytes: Uint8Array) => `whsec_${Buffer.from(bytes).toString('base64')}`;
const newSecret = () => secretOf(randomBytes(32));
const body = JSON.stringify({ type: 'lead.replied', timestamp: '2026-12-07T16:00:00.000Z', data: { lead: 'l_1', text: 'héllo' } });

async function refusal(p: Promise<unknown>): Promise<WebhookVerificationCode | 'accepted'> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
}

describe('verifyWebhook', () => {
  test("accepts what the standardwebhooks library signs, and returns the parsed body", async () => {
    const secret = newSecret();
    const now = new Date();
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', now, body) };
    expect(await verifyWebhook(body, headers, secret)).toEqual(JSON.parse(body));
    // The same from raw bytes and from fetch's Headers, and with header names in any case.
    expect(await verifyWebhook(Buffer.from(body), new Headers(headers), secret)).toEqual(JSON.parse(body));
    const shouting = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(await verifyWebhook(body, shouting, secret)).toEqual(JSON.parse(body));
  });

  test('during a rotation: both signatures sent, either secret (or both) verifies; neither alone of a stranger does', async () => {
    const [next, previous] = [newSecret(), newSecret()];
    const headers = signatureHeaders([next, previous], 'msg_2', body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [next, previous, [next, previous], [newSecret(), previous]]) {
      expect(await verifyWebhook(body, headers, secret)).toMatchObject({ type: 'lead.replied' });
      // The reference library agrees with every signature Gatehouse makes.
      for (const s of [secret].flat()) if (s === next || s === previous) new Webhook(s).verify(body, headers);
    }
    expect(await refusal(verifyWebhook(body, headers, newSecret()))).toBe('invalid_signature');
    expect(await refusal(verifyWebhook(body, headers, [newSecret(), newSecret()]))).toBe('invalid_signature');
  });

  test('each refusal has its code', async () => {
    const secret = newSecret();
    const ok = signatureHeaders([secret], 'msg_3', body);
    const { 'webhook-signature': _s, ...unsigned } = ok;
    const cases: Array<[WebhookVerificationCode, () => Promise<unknown>]> = [
      ['missing_header', () => verifyWebhook(body, unsigned, secret)],
      ['missing_header', () => verifyWebhook(body, { ...ok, 'webhook-id': '' }, secret)],
      ['invalid_timestamp', () => verifyWebhook(body, { ...ok, 'webhook-timestamp': '12.5' }, secret)],
      ['timestamp_too_old', () => verifyWebhook(body, ok, secret, { now: Date.now() + 301_000 })],
      ['timestamp_too_new', () => verifyWebhook(body, ok, secret, { now: Date.now() - 301_000 })],
      ['invalid_signature', () => verifyWebhook(body + ' ', ok, secret)],
      ['invalid_signature', () => verifyWebhook(body, { ...ok, 'webhook-signature': ok['webhook-signature'].replace('v1,', 'v2,') }, secret)],
      ['invalid_signature', () => verifyWebhook(body, { ...ok, 'webhook-signature': 'v1,not*base64' }, secret)],
      ['invalid_signature', () => verifyWebhook(body, { ...ok, 'webhook-timestamp': String(Number(ok['webhook-timestamp']) + 1) }, secret)],
      ['invalid_secret', () => verifyWebhook(body, ok, 'whsec_***')],
      ['invalid_secret', () => verifyWebhook(body, ok, [])],
      ['invalid_body', () => verifyWebhook('not json', signatureHeaders([secret], 'msg_3', 'not json'), secret)],
    ];
    for (const [code, call] of cases) expect(await refusal(call()), code).toBe(code);
    // A wider tolerance lets the old message through.
    expect(await refusal(verifyWebhook(body, ok, secret, { now: Date.now() + 301_000, toleranceS: 600 }))).toBe('accepted');
  });

  test('agrees with the reference library on random messages, secrets and tamperings', async () => {
    const tamper = fc.constantFrom('none', 'body', 'id', 'timestamp', 'signature', 'secret', 'stale');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 24, maxLength: 64 }), fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\s,]/.test(s)), fc.jsonValue(), tamper, async (key, id, value, how) => {
        const secret = secretOf(key);
        const text = JSON.stringify(value);
        const at = new Date(Date.now() - (how === 'stale' ? 400_000 : 0));
        const headers = { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, text) };
        const sent = how === 'body' ? `${text} ` : text;
        if (how === 'id') headers['webhook-id'] = `${id}x`;
        if (how === 'timestamp') headers['webhook-timestamp'] = String(Number(headers['webhook-timestamp']) - 1);
        if (how === 'signature') headers['webhook-signature'] = `v1,${Buffer.from(randomBytes(32)).toString('base64')}`;
        const checkedWith = how === 'secret' ? newSecret() : secret;
        let reference: boolean;
        try {
          new Webhook(checkedWith).verify(sent, headers);
          reference = true;
        } catch {
          reference = false;
        }
        const ours = (await refusal(verifyWebhook(sent, headers, checkedWith))) === 'accepted';
        expect(ours).toBe(reference);
        expect(ours).toBe(how === 'none');
      }),
      { numRuns: 300 },
    );
  });
});
