import { ApiError } from '../api';

/** "45 seconds", "3 minutes", "2 hours": how long a locked account waits, rounded up. */
export function waitText(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s} ${s === 1 ? 'second' : 'seconds'}`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} ${m === 1 ? 'minute' : 'minutes'}`;
  const h = Math.ceil(m / 60);
  return `${h} ${h === 1 ? 'hour' : 'hours'}`;
}

/** The sign-in error as a person reads it: a lockout says when to try again. */
export function signInErrorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const wait = err.details?.retry_after_s;
  if (err.details?.reason === 'locked' && typeof wait === 'number') return `${err.message}. Try again in ${waitText(wait)}.`;
  return err.message;
}

/** Why a single sign-on came back to the sign-in page (`/?sso_error=<reason>`), as a person reads it. */
const SSO_ERRORS: Record<string, string> = {
  sso_not_configured: 'No organization signs in with single sign-on for this email address.',
  state_invalid: 'This sign-in link has been used already or has expired. Start again.',
  browser_mismatch: 'This sign-in was started in another browser. Start again here.',
  id_token_invalid: "Your identity provider's answer could not be verified. Start again, or ask your administrator.",
  email_unverified: 'Your identity provider has not verified your email address.',
  email_missing: 'Your identity provider did not send an email address.',
  domain_not_allowed: "Your email address is not one of your organization's single sign-on domains.",
  provider_error: 'Your identity provider did not sign you in.',
  address_attempts: 'Too many sign-in attempts: wait a moment and try again.',
};

export const ssoErrorText = (reason: string) => SSO_ERRORS[reason] ?? `Single sign-on did not complete (${reason}).`;
