import type { Logger } from 'pino';

/**
 * Keeps a claimed item's lease while its work runs, extending it every third of the lease, so work
 * that outlasts its lease is not claimed again meanwhile (the heartbeat). When the lease turns out
 * lost (claimed again after this holder stalled, or no extension reached the database for a whole
 * lease), `signal` aborts: the holder must stop and record nothing, as another may run it now.
 * `extend` answers false when the item is no longer this holder's.
 */
export function holdLease(extend: () => Promise<boolean>, leaseMs: number, log: Logger, what: Record<string, unknown>) {
  const lost = new AbortController();
  let extendedAt = Date.now();
  const beat = async () => {
    try {
      if (await extend()) extendedAt = Date.now();
      else lost.abort(new Error('the lease was lost: another worker may run it'));
    } catch (err) {
      if (Date.now() - extendedAt >= leaseMs) lost.abort(new Error('the lease could not be extended and ran out'));
      else log.warn({ ...what, err: (err as Error).message }, 'could not extend a lease; trying again');
    }
    if (lost.signal.aborted) {
      clearInterval(timer);
      log.warn({ ...what, reason: (lost.signal.reason as Error).message }, 'work aborted; its outcome will not be recorded');
    }
  };
  const timer = setInterval(beat, Math.max(1, Math.floor(leaseMs / 3)));
  timer.unref();
  return { signal: lost.signal, stop: () => clearInterval(timer) };
}
