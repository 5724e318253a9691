import { backoffDelayMs, scheduleS } from '../../lib/backoff.js';

/**
 * When to try a delivery again. The default schedule follows the common practice of webhook
 * services: the first try at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the last delay
 * repeats for endpoints allowing more retries). Each delay gets ±20% jitter so retries of a burst
 * do not arrive as a burst.
 */
export const DEFAULT_RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
const JITTER = { spread: 0.2 };
/** A Retry-After beyond this is capped to it: a receiver cannot park a delivery for longer. */
const MAX_RETRY_AFTER_S = 24 * 3600;

export type Verdict =
  | { kind: 'succeeded' }
  /** network error, timeout, 5xx, 408, 425, 429: try again */
  | { kind: 'retry'; retryAfterS?: number }
  /** any other 4xx (or 3xx: redirects are not followed): the receiver refused it; dead-lettered at once */
  | { kind: 'refused' }
  /** 410 Gone: the receiver says the endpoint is gone; it is disabled */
  | { kind: 'gone' };

const RETRYABLE = new Set([408, 425, 429]);

export function verdictOf(status: number | null, retryAfter?: string | null, now = Date.now()): Verdict {
  if (status === null) return { kind: 'retry' };
  if (status >= 200 && status < 300) return { kind: 'succeeded' };
  if (status === 410) return { kind: 'gone' };
  if (status >= 500 || RETRYABLE.has(status)) return { kind: 'retry', retryAfterS: parseRetryAfter(retryAfter, now) };
  return { kind: 'refused' };
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), MAX_RETRY_AFTER_S);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, (at - now) / 1000), MAX_RETRY_AFTER_S);
}

/**
 * The delay before retry number `retry` (1 = the first retry), in ms: the schedule's entry with
 * jitter, or the receiver's Retry-After when it asks for longer.
 */
export function retryDelayMs(schedule: readonly number[], retry: number, retryAfterS?: number, random = Math.random): number {
  return Math.round(Math.max(backoffDelayMs(scheduleS(schedule, JITTER), retry, random), (retryAfterS ?? 0) * 1000));
}
