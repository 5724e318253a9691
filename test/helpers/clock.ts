import type { Clock } from '../../src/lib/clock.js';

export interface TestClock extends Clock {
  /** Moves this clock `ms` ahead of the system's, for good: expiry is reached without waiting for it. */
  advance(ms: number): void;
}

/** The system's time plus whatever the test has advanced it by; it runs on as real time does. */
export function createTestClock(): TestClock {
  let aheadMs = 0;
  return {
    now: () => Date.now() + aheadMs,
    advance(ms) {
      aheadMs += ms;
    },
  };
}
