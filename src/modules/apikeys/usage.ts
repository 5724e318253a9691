import type { UsageBatchEntry } from './store.js';

/**
 * Counts verified requests in memory; `drain` hands the batch to a job once a second, so a busy
 * key costs one row update per flush instead of one write per request.
 */
export function createUsageRecorder() {
  let pending = new Map<string, UsageBatchEntry>();
  return {
    record(keyId: string, ip: string | null, now = new Date()) {
      const at = now.toISOString(); // once: this runs on every verified request
      const day = at.slice(0, 10);
      const id = `${keyId}|${day}`;
      const entry = pending.get(id);
      if (entry) {
        entry.requests++;
        entry.last_used_at = at;
        entry.last_used_ip = ip;
      } else {
        pending.set(id, { key_id: keyId, day, requests: 1, last_used_at: at, last_used_ip: ip });
      }
    },
    drain(): UsageBatchEntry[] {
      const batch = [...pending.values()];
      pending = new Map();
      return batch;
    },
    /** Puts a batch back when it could not be written, so a database hiccup loses no counts. */
    restore(batch: UsageBatchEntry[]) {
      for (const e of batch) {
        const id = `${e.key_id}|${e.day}`;
        const entry = pending.get(id);
        if (entry) entry.requests += e.requests;
        else pending.set(id, e);
      }
    },
    get size() {
      return pending.size;
    },
  };
}
export type UsageRecorder = ReturnType<typeof createUsageRecorder>;
