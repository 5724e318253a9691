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
