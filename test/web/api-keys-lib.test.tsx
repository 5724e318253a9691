// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { KNOWN_SCOPES as SERVER_SCOPES, isKnownScope } from '../../src/modules/apikeys/scopes';
import { EMPTY_KEY_FORM, formatRateLimit, formatRemaining, keyFormSchema, parseAllowList, SCOPE_CHOICES, toCreateKeyBody, KNOWN_SCOPES } from '../../web/src/lib/apiKeys';

describe('the scopes the form offers', () => {
  test('are the server’s, in the same order, so the form offers nothing the API refuses', () => {
    expect([...KNOWN_SCOPES]).toEqual([...SERVER_SCOPES]);
  });
  test('every choice, families and * included, is one the API accepts', () => {
    expect(SCOPE_CHOICES.filter((s) => !isKnownScope(s))).toEqual([]);
    expect(SCOPE_CHOICES).toContain('*');
    expect(SCOPE_CHOICES).toContain('keys:*');
    expect(new Set(SCOPE_CHOICES).size).toBe(SCOPE_CHOICES.length);
  });
});

describe('the table’s formatting', () => {
  test('a rate limit names its window when it has a common one', () => {
    expect(formatRateLimit({ limit: 100, window_s: 60 })).toBe('100 / minute');
    expect(formatRateLimit({ limit: 5000, window_s: 3600 })).toBe('5,000 / hour');
    expect(formatRateLimit({ limit: 3, window_s: 90 })).toBe('3 / 90 s');
    expect(formatRateLimit(null)).toBe('none');
  });
  test('remaining uses: null is unlimited, zero is zero', () => {
    expect(formatRemaining(null)).toBe('unlimited');
    expect(formatRemaining(0)).toBe('0');
    expect(formatRemaining(12000)).toBe('12,000');
  });
});

describe('the new-key form', () => {
  const valid = { ...EMPTY_KEY_FORM, name: ' billing ', scopes: ['keys:read'] };

  test('blank optional fields are left out of the body, so the API’s defaults apply', () => {
    expect(toCreateKeyBody(valid)).toEqual({ name: 'billing', scopes: ['keys:read'] });
  });

  test('every field set: expiry read as UTC, rate limit as one object, allow-list split on lines and commas', () => {
    const body = toCreateKeyBody({ ...valid, expires_at: '2030-01-02T03:04', rate_limit: 100, rate_window_s: 60, remaining: 5, ip_allowlist: '10.0.0.0/8\n 192.168.1.1, ::1\n\n' });
    expect(body).toEqual({
      name: 'billing', scopes: ['keys:read'], expires_at: '2030-01-02T03:04:00.000Z',
      rate_limit: { limit: 100, window_s: 60 }, remaining: 5, ip_allowlist: ['10.0.0.0/8', '192.168.1.1', '::1'],
    });
    expect(parseAllowList('  ')).toEqual([]);
  });

  const issues = (v: object) => {
    const r = keyFormSchema.safeParse(v);
    return r.success ? {} : Object.fromEntries(r.error.issues.map((i) => [i.path.join('.'), i.message]));
  };

  test('a name and a scope are required', () => {
    expect(issues(EMPTY_KEY_FORM)).toEqual({ name: 'Give the key a name', scopes: 'Choose at least one scope' });
    expect(issues({ ...valid, name: '   ' })).toEqual({ name: 'Give the key a name' });
    expect(issues(valid)).toEqual({});
  });

  test('a rate limit needs both its numbers', () => {
    expect(issues({ ...valid, rate_limit: 10 })).toEqual({ rate_window_s: 'Give both the limit and the window, or neither' });
    expect(issues({ ...valid, rate_window_s: 60 })).toEqual({ rate_limit: 'Give both the limit and the window, or neither' });
    expect(issues({ ...valid, rate_limit: 10, rate_window_s: 60 })).toEqual({});
    expect(issues({ ...valid, rate_limit: 10, rate_window_s: 90_000 })).toEqual({ rate_window_s: 'at most 86,400' });
  });

  test('an expiry must be in the future; uses at least one', () => {
    expect(issues({ ...valid, expires_at: '2020-01-01T00:00' })).toEqual({ expires_at: 'The expiry must be in the future' });
    expect(issues({ ...valid, expires_at: '2999-01-01T00:00' })).toEqual({});
    expect(issues({ ...valid, remaining: 0 })).toEqual({ remaining: 'at least 1' });
  });
});
