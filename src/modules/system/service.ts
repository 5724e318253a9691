import type { Database } from '../../db/connect.js';
import { AppError } from '../../lib/errors.js';

/** What the probes ask of the process: whether its database answers, and which kind it is. */
export function createSystemService({ database }: { database: Database }) {
  return {
    async readiness() {
      try {
        await database.ping();
      } catch {
        // Thrown, not sent, so the one error handler adds the request id like on every other error.
        throw new AppError('unavailable', 'the database is unreachable', undefined, { 'retry-after': '5' });
      }
      return { status: 'ready' as const, database: database.kind };
    },
  };
}
export type SystemService = ReturnType<typeof createSystemService>;
