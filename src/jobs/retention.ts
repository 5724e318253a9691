import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Rows one prune statement deletes at most. Small enough that a statement holds its row locks and
 * (on the embedded database, which serves requests from the same thread) the process for a few
 * milliseconds; large enough that a million expired rows take a few hundred statements.
 */
export const PRUNE_BATCH = 2000;

/** Between batches the database goes to whoever is waiting for it, the requests being served first. */
const PAUSE_MS = 5;

/** A prune run stops after this, well inside the 60 s job lease, and its job queues the rest. */
export const PRUNE_RUN_BUDGET_MS = 30_000;

/**
 * Deletes at most `limit` expired rows of one table, oldest first through an index (so a batch
 * reads about the rows it deletes, not the table), and says how many it deleted.
 */
export type PruneBatch = (limit: number) => Promise<number>;

export interface PruneOutcome {
  removed: number;
  batches: number;
  /** The most rows one statement deleted: never more than the batch size. */
  largest: number;
  /** False when the run's deadline came first: expired rows may remain. */
  done: boolean;
}

/** Runs `deleteBatch` until a short batch (nothing expired is left) or the deadline, pausing between batches. */
export async function pruneInBatches(deleteBatch: PruneBatch, { batch = PRUNE_BATCH, deadline = Infinity } = {}): Promise<PruneOutcome> {
  const outcome: PruneOutcome = { removed: 0, batches: 0, largest: 0, done: false };
  for (;;) {
    const n = await deleteBatch(batch);
    outcome.removed += n;
    outcome.batches++;
    outcome.largest = Math.max(outcome.largest, n);
    if (n < batch) return { ...outcome, done: true };
    if (Date.now() >= deadline) return outcome;
    await sleep(PAUSE_MS);
  }
}
