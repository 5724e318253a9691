// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { ApiError } from '../../web/src/api';
import { deviceText, mayBeSignedOut, reauthErrorText } from '../../web/src/lib/account';

describe('a session\'s browser, short', () => {
  test('browser, major version and system from a real User-Agent', () => {
    expect(deviceText('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36')).toBe('Chrome 120 on Windows');
    expect(deviceText('Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0')).toBe('Firefox 121 on macOS');
    expect(deviceText('Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1')).toBe('Safari 17 on iOS');
  });
  test('a script or nothing at all still reads as something', () => {
    expect(deviceText(null)).toBe('Unknown browser');
    expect(deviceText('   ')).toBe('Unknown browser');
    expect(deviceText('curl/8.5.0')).toMatch(/curl/i);
  });
});

describe('replacing the authenticator: refusals in words', () => {
  const refused = (status: number, reason: string, extra: Record<string, unknown> = {}) => new ApiError(status, status === 429 ? 'rate_limited' : 'unauthenticated', 'wrong email or password', { reason, ...extra });
  test('a wrong password names the password, not an email the form does not have', () => {
    const text = reauthErrorText(refused(401, 'wrong_credentials'));
    expect(text).toBe('The password is not right. Nothing was changed.');
  });
  test('a wrong code and a spent code are told apart', () => {
    expect(reauthErrorText(refused(401, 'wrong_totp'))).toMatch(/^The code is not valid/);
    expect(reauthErrorText(refused(401, 'totp_reused'))).toMatch(/used already: wait for the next one/);
  });
  test('too many attempts says how long to wait; a lock says so', () => {
    expect(reauthErrorText(refused(429, 'locked', { retry_after_s: 90 }))).toBe('Too many wrong passwords or codes: your account is locked for now. Try again in 2 minutes.');
    expect(reauthErrorText(refused(429, 'account_attempts', { retry_after_s: 12 }))).toBe('Too many attempts. Try again in 12 seconds.');
    expect(reauthErrorText(refused(429, 'address_attempts'))).toBe('Too many attempts. Try again later.');
  });
  test('anything else keeps the server\'s sentence', () => {
    expect(reauthErrorText(new ApiError(403, 'forbidden', 'replacing your authenticator needs your password', { reason: 'reauthentication_required' }))).toBe('replacing your authenticator needs your password');
  });
});

test('any 401 sends the portal to ask whether the session is still open; other refusals do not', () => {
  expect(mayBeSignedOut(new ApiError(401, 'unauthenticated', 'the session has ended: sign in again', { reason: 'session_expired' }))).toBe(true);
  // A dead cookie on a route that also takes API keys reads as a missing key.
  expect(mayBeSignedOut(new ApiError(401, 'unauthenticated', 'an Authorization: Bearer <key> header is required', { reason: 'missing_authorization' }))).toBe(true);
  expect(mayBeSignedOut(new ApiError(403, 'forbidden', 'no', { reason: 'insufficient_scope' }))).toBe(false);
  expect(mayBeSignedOut(new ApiError(429, 'rate_limited', 'too many', { reason: 'locked' }))).toBe(false);
  expect(mayBeSignedOut(new Error('offline'))).toBe(false);
});
