import type { UsageBatchEntry } from './store.js';

const DAY_MS = 86_400_000;

/** A pending entry: the last use is kept as epoch ms and made an ISO string only when drained. */
type Pending = Omit<UsageBatchEntry, 'last_used_at'> & { lastUsedMs: number };

/**
 * Counts verified requests in memory; `drain` hands the batch to a job once a second, so a busy
 * key costs one row update per flush instead of one write per request. `record` runs on every
 * verified request, so it formats no dates: the UTC day is worked out once per day.
 */
export function createUsageRecorder() {
  let pending = new Map<string, Pending>();
  let dayStart = 0;
  let day = '';
  const dayOf = (ms: number) => {
    if (ms < dayStart || ms >= dayStart + DAY_MS) {
      dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS); // epoch time has no leap seconds: days are exact
      day = new Date(dayStart).toISOString().slice(0, 10);
    }
    return day;
  };
  return {
    record(keyId: string, ip: string | null, now: Date | number = Date.now()) {
      const ms = typeof now === 'number' ? now : now.getTime();
      const d = dayOf(ms);
      const id = `${keyId}|${d}`;
      const entry = pending.get(id);
      if (entry) {
        entry.requests++;
        entry.lastUsedMs = ms;
        entry.last_used_ip = ip;
      } else {
        pending.set(id, { key_id: keyId, day: d, requests: 1, lastUsedMs: ms, last_used_ip: ip });
      }
    },
    drain(): UsageBatchEntry[] {
      const batch = [...pending.values()].map(({ lastUsedMs, ...e }) => ({ ...e, last_used_at: new Date(lastUsedMs).toISOString() }));
      pending = new Map();
      return batch;
    },
    /** Puts a batch back when it could not be written, so a database hiccup loses no counts. */
    restore(batch: UsageBatchEntry[]) {
      for (const { last_used_at, ...e } of batch) {
        const id = `${e.key_id}|${e.day}`;
        const entry = pending.get(id);
        if (entry) entry.requests += e.requests;
        else pending.set(id, { ...e, lastUsedMs: Date.parse(last_used_at) });
      }
    },
    get size() {
      return pending.size;
    },
  };
}
export type UsageRecorder = ReturnType<typeof createUsageRecorder>;
