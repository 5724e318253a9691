/**
 * The time as the service judges it where Node decides (key expiry and rotation grace, retry due
 * times, lease heartbeats); SQL `now()` stays where the database decides. Injected through
 * createServices so a test moves time forward instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
