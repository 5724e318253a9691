import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { ownEvent } from '../webhooks/catalog.js';
import { publish } from '../webhooks/publish.js';
import { FAILING_AFTER } from './status.js';
import * as store from './store.js';

export { FAILING_AFTER, statusOf, worstStatus, type HealthStatus } from './status.js';

/** Gatehouse's own event, in the transaction that caused it; outbound webhooks deliver it. */
export async function emitEvent(trx: Executor, workspaceId: string, event: ReturnType<typeof ownEvent>) {
  await publish(trx, workspaceId, event);
}

/** Each credential's run of failures and its calls per day, kept as upstream calls are answered. */
export function createHealthService({ db }: { db: Kysely<DB> }) {
  return {
    /**
     * One call's outcome; crossing into or out of failing emits an event in the same transaction.
     * `alongside` (the upstream call log row) is written with it, so a call is logged and counted
     * together. A success with no run of failures, nearly every call, is one statement.
     */
    async record(outcome: store.Outcome, alongside: store.Alongside) {
      const steady = outcome.verdict === 'ok' && (await store.recordSteadySuccess(db, outcome, alongside));
      if (steady) return;
      const counted = outcome.verdict === 'ok';
      await db.transaction().execute(async (trx) => {
        if (!counted) await alongside(trx).execute();
        const { before, after } = await store.recordOutcome(trx, outcome, { counted });
        const payload = { workspace_id: outcome.workspaceId, provider: outcome.provider, consecutive_failures: after, status_code: outcome.statusCode, error: outcome.message };
        if (before < FAILING_AFTER && after >= FAILING_AFTER) await emitEvent(trx, outcome.workspaceId, ownEvent('gatehouse.credential.failing', payload));
        if (before >= FAILING_AFTER && after === 0) await emitEvent(trx, outcome.workspaceId, ownEvent('gatehouse.credential.recovered', payload));
      });
    },
  };
}
export type HealthService = ReturnType<typeof createHealthService>;
