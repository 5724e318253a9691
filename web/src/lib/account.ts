/** What the Account section says about sessions and a replaced authenticator: plain functions, tested in test/web. */
import Bowser from 'bowser';
import { ApiError } from '../api';
import { waitText } from './signin';

/** "Chrome 120 on Windows" from a session's User-Agent; "Unknown browser" when there is none to read. */
export function deviceText(userAgent: string | null): string {
  if (!userAgent?.trim()) return 'Unknown browser';
  const parsed = Bowser.parse(userAgent);
  const name = parsed.browser.name;
  // The major version is enough to recognise a browser; the full one is noise on screen.
  const version = parsed.browser.version?.split('.')[0];
  const os = parsed.os.name;
  const browser = name ? [name, version].filter(Boolean).join(' ') : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? userAgent.slice(0, 40);
}

/**
 * A 401 may mean this browser's session is gone (ended from another browser, idle, expired): a
 * dead cookie on most routes reads as a missing API key. It may also be a wrong password while
 * replacing the authenticator, so the caller asks /v1/auth/me before signing anyone out.
 */
export const mayBeSignedOut = (err: unknown): boolean => err instanceof ApiError && err.status === 401;

/**
 * Why replacing the authenticator was refused, in words for this form: the server's sign-in
 * wording ("wrong email or password") would name a field the form does not have.
 */
export function reauthErrorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const reason = err.details?.reason;
  if (err.status === 429) {
    const wait = err.details?.retry_after_s;
    const when = typeof wait === 'number' ? `Try again in ${waitText(wait)}.` : 'Try again later.';
    return reason === 'locked' ? `Too many wrong passwords or codes: your account is locked for now. ${when}` : `Too many attempts. ${when}`;
  }
  if (err.status === 401 && reason === 'wrong_credentials') return 'The password is not right. Nothing was changed.';
  if (err.status === 401 && reason === 'wrong_totp') return 'The code is not valid: enter the one your current authenticator app shows now. Nothing was changed.';
  if (err.status === 401 && reason === 'totp_reused') return 'That code has been used already: wait for the next one. Nothing was changed.';
  return err.message;
}
