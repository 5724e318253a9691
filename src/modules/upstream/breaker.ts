import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors.js';

/** What the breaker reads of a call's result (the client's result type, without depending on the client). */
interface Answered {
  /** null when no response came back. */
  status: number | null;
}

/** The provider answered nothing or a 5xx (after the client's own retries): the instance, not the credential, is failing. */
const isOutage = (r: Answered) => r.status === null || r.status >= 500;

class Outage extends Error {
  constructor(readonly result: Answered) {
    super('upstream outage');
  }
}

export interface BreakerOptions {
  /** How long calls fail fast before one trial call is let through. */
  resetMs: number;
  /** Calls in the rolling window before the breaker may open at all. */
  volume?: number;
  /** Share of failed calls in the window that opens it. */
  errorPercent?: number;
  log: Logger;
}

/**
 * One circuit breaker per upstream target (a provider at one origin: an Email Bison instance, or
 * Twilio's API), in this process. While a target keeps failing, its calls fail at once with a 502
 * that says why and until when, instead of every workspace waiting out the timeout; after `resetMs`
 * one trial call goes through, and a success closes the breaker. A 4xx is a credential's or a
 * request's fault, never the target's, and does not count.
 */
export function createBreakers(o: BreakerOptions) {
  const breakers = new Map<string, CircuitBreaker<[() => Promise<Answered>], Answered>>();
  const openedAt = new Map<string, number>();

  function breakerFor(target: string) {
    let b = breakers.get(target);
    if (b) return b;
    b = new CircuitBreaker(async (work: () => Promise<Answered>) => {
      const r = await work();
      if (isOutage(r)) throw new Outage(r);
      return r;
    }, {
      timeout: false, // the client applies the upstream timeout itself
      resetTimeout: o.resetMs,
      volumeThreshold: o.volume ?? 5,
      errorThresholdPercentage: o.errorPercent ?? 50,
      rollingCountTimeout: 60_000,
      rollingCountBuckets: 12,
    });
    b.on('open', () => {
      openedAt.set(target, Date.now());
      o.log.warn({ target, reset_ms: o.resetMs }, 'upstream circuit opened: calls fail fast until a trial call succeeds');
    });
    b.on('halfOpen', () => o.log.info({ target }, 'upstream circuit half-open: letting one trial call through'));
    b.on('close', () => {
      openedAt.delete(target);
      o.log.info({ target }, 'upstream circuit closed: calls resume');
    });
    breakers.set(target, b);
    return b;
  }

  return {
    /** Runs `work` (one upstream call with its retries) through the target's breaker. */
    // Whatever comes back is what `work` returned (its own result, or the Outage carrying it): the casts to R are that.
    async run<R extends Answered>(target: string, label: string, work: () => Promise<R>): Promise<R> {
      const b = breakerFor(target);
      try {
        return (await b.fire(work)) as R;
      } catch (err) {
        // The call was made and answered badly: the caller still gets that answer.
        if (err instanceof Outage) return err.result as R;
        if ((err as { code?: string }).code === 'EOPENBREAKER') {
          const until = new Date((openedAt.get(target) ?? Date.now()) + o.resetMs);
          // Fires include the calls refused while open; those never reached the target.
          const { failures, fires, rejects } = b.stats;
          throw new AppError('upstream_failed', `${label} is failing (${failures} of its last ${fires - rejects} calls got no answer or a 5xx); calls to it are paused until ${until.toISOString()}, then one trial call goes through and a success resumes them`, {
            circuit: 'open', retry_at: until.toISOString(),
          }, { 'retry-after': String(Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000))) });
        }
        throw err;
      }
    },
    state(target: string): 'closed' | 'open' | 'half_open' {
      const b = breakers.get(target);
      return !b || b.closed ? 'closed' : b.halfOpen ? 'half_open' : 'open';
    },
    shutdown() {
      for (const b of breakers.values()) b.shutdown();
    },
  };
}
export type Breakers = ReturnType<typeof createBreakers>;
