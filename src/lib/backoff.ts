/**
 * The one retry policy of Gatehouse: every retry (jobs, deliveries, inbound processing, upstream
 * calls, migration lock waits, sign-in locks, Redis reconnects) takes its delays from here, so a
 * reader finds every schedule in one shape. A policy is plain data, so a site whose delay is
 * decided inside an SQL statement can read its numbers (see `scheduleStepMs`, `exponential`).
 */

/**
 * How a delay is spread so that retries of a burst do not arrive as a burst.
 * - `none`: the nominal delay.
 * - `full`: uniform in [0, d).
 * - `equal`: uniform in [d/2, d).
 * - `{ spread: r }`: uniform in [d·(1−r), d·(1+r)).
 */
export type Jitter = 'none' | 'full' | 'equal' | { spread: number };

/** first, first·factor, first·factor² … at most capMs. */
export interface ExponentialBackoff { kind: 'exponential'; firstMs: number; factor: number; capMs: number; jitter: Jitter }
/** first, 2·first, 3·first … at most capMs. */
export interface LinearBackoff { kind: 'linear'; firstMs: number; capMs: number; jitter: Jitter }
/** The steps in order; the last one repeats for retries beyond them. No steps: no delay. */
export interface ScheduleBackoff { kind: 'schedule'; stepsMs: readonly number[]; jitter: Jitter }
export type BackoffPolicy = ExponentialBackoff | LinearBackoff | ScheduleBackoff;

export const exponential = (o: { firstMs: number; factor?: number; capMs: number; jitter?: Jitter }): ExponentialBackoff =>
  ({ kind: 'exponential', firstMs: o.firstMs, factor: o.factor ?? 2, capMs: o.capMs, jitter: o.jitter ?? 'none' });

export const linear = (o: { firstMs: number; capMs: number; jitter?: Jitter }): LinearBackoff =>
  ({ kind: 'linear', firstMs: o.firstMs, capMs: o.capMs, jitter: o.jitter ?? 'none' });

/** A fixed schedule in seconds (as operators write it), kept in ms. */
export const scheduleS = (stepsS: readonly number[], jitter: Jitter = 'none'): ScheduleBackoff =>
  ({ kind: 'schedule', stepsMs: stepsS.map((s) => s * 1000), jitter });

/** The schedule step for retry `retry` (1 = the first retry): the last step repeats. */
export const scheduleStepMs = (stepsMs: readonly number[], retry: number) =>
  stepsMs.length === 0 ? 0 : stepsMs[Math.min(Math.max(retry, 1), stepsMs.length) - 1];

/** The delay before retry number `retry` (1 = the first retry) without jitter, in ms. */
export function nominalDelayMs(policy: BackoffPolicy, retry: number): number {
  const n = Math.max(1, retry);
  switch (policy.kind) {
    case 'exponential':
      return Math.min(policy.firstMs * policy.factor ** (n - 1), policy.capMs);
    case 'linear':
      return Math.min(policy.firstMs * n, policy.capMs);
    case 'schedule':
      return scheduleStepMs(policy.stepsMs, n);
  }
}

/** The delay before retry number `retry` (1 = the first retry), jittered, in whole ms. */
export function backoffDelayMs(policy: BackoffPolicy, retry: number, random: () => number = Math.random): number {
  const d = nominalDelayMs(policy, retry);
  const j = policy.jitter;
  if (j === 'none') return Math.round(d);
  if (j === 'full') return Math.floor(d * random());
  if (j === 'equal') return Math.floor(d / 2 + (d / 2) * random());
  return Math.round(d * (1 + j.spread * (2 * random() - 1)));
}
