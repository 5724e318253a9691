// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { anyInFlight, asksForSecret, INBOUND_KINDS, INBOUND_PROVIDERS, prettyBody } from '../../web/src/lib/inbound';
import { INBOUND_PROVIDERS as SERVER_PROVIDERS, KINDS } from '../../src/modules/inbound/kinds';

describe('inbound kinds in the portal', () => {
  test('the same providers, and the same secret rule, as the server', () => {
    expect([...INBOUND_PROVIDERS]).toEqual([...SERVER_PROVIDERS]);
    for (const p of SERVER_PROVIDERS) expect([p, INBOUND_KINDS[p].secret]).toEqual([p, KINDS[p].secret]);
  });
  test('the form asks for a secret except where Gatehouse generates it', () => {
    expect(INBOUND_PROVIDERS.filter(asksForSecret)).toEqual(['twilio', 'whatsapp', 'vonage', 'vapi', 'emailbison', 'http']);
  });
});

describe('the payload view', () => {
  test('JSON indented', () => expect(prettyBody('{"a":1,"b":[true]}', 'application/json; charset=utf-8')).toBe('{\n  "a": 1,\n  "b": [\n    true\n  ]\n}'));
  test('a form body as its fields', () => expect(prettyBody('From=%2B15550001&Body=hi+there', 'application/x-www-form-urlencoded')).toBe('{\n  "From": "+15550001",\n  "Body": "hi there"\n}'));
  test('anything else as it came', () => expect(prettyBody('not { json', 'text/plain')).toBe('not { json'));
});

test('the list keeps refreshing while an event is with the worker', () => {
  expect(anyInFlight([{ status: 'processed' }, { status: 'pending' }])).toBe(true);
  expect(anyInFlight([{ status: 'processing' }])).toBe(true);
  expect(anyInFlight([{ status: 'processed' }, { status: 'failed' }, { status: 'ignored' }])).toBe(false);
});
