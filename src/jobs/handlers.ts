import type { Services } from '../services.js';
import { pruneFinishedJobs } from './queue.js';
import type { JobHandler, Schedule } from './worker.js';

export const JOB = {
  usageFlush: 'usage.flush',
  revokeDueKeys: 'keys.revoke-due',
  pruneJobs: 'jobs.prune',
} as const;

/** What each job kind does; a handler throws to have its job retried with backoff. */
export function jobHandlers(services: Services): Record<string, JobHandler> {
  return {
    [JOB.usageFlush]: async (payload) => services.apiKeys.applyUsageBatch(payload.entries),
    [JOB.revokeDueKeys]: async () => {
      const n = await services.apiKeys.revokeDueKeys();
      if (n) services.log.info({ keys: n }, 'revoked keys whose rotation grace or expiry passed');
    },
    [JOB.pruneJobs]: async () => {
      await pruneFinishedJobs(services.database.db, new Date(Date.now() - 86400_000));
    },
  };
}

export const schedules: Schedule[] = [
  // Verification already refuses such keys on its own; this marks them, audits it and tells every cache.
  { kind: JOB.revokeDueKeys, everyMs: 10_000 },
  { kind: JOB.pruneJobs, everyMs: 3600_000 },
];
