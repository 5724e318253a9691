import type { QueueTable } from '../../queue/table.js';

export const DELIVERIES_CHANNEL = 'gatehouse_deliveries';

// What the queue's watchers outside this module read: its depth (/metrics) and retention (the prune job).
export { pruneFinishedDeliveries, pruneUnreferencedEvents, queueDepth } from './store-recovery.js';

/** A claimed delivery with what one attempt needs. */
export interface ClaimedDelivery {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  max_attempts: number;
  event_type: string;
  event_payload: unknown;
  event_created_at: Date;
  url: string;
  timeout_s: number;
  headers: Record<string, string>;
  event_trace_parent: string | null;
}

/**
 * A worker's share rule: at most `cap` deliveries of one workspace at once, and up to `borrowCap`
 * while the worker has a share's worth of slots to spare; `held` is what it holds now, by workspace.
 */
export interface WorkspaceShares {
  cap: number;
  borrowCap?: number;
  held: ReadonlyMap<string, number>;
}

/** The deliveries table as the queue sees it. */
export const DELIVERIES_TABLE: QueueTable = {
  table: 'webhook_deliveries', due: 'next_attempt_at', waiting: 'pending', held: 'delivering', dead: 'dead', maxAttempts: 'max_attempts', finishedAt: 'finished_at',
};

/**
 * A delivery worker's offer to take new deliveries as they are written, already leased to it, so
 * their first attempt needs no claim (a statement, a plan and a round trip per batch) and no wake-up.
 * It takes at most `slots`, and of one workspace at most `cap` minus what it `held` already; an
 * endpoint still gets no more than its max_in_flight of open requests, counted across workers.
 * What it cannot take is written pending, for any worker to claim as usual.
 */
export interface HandOff {
  workerId: string;
  slots: number;
  cap: number;
  held: Record<string, number>;
  leaseMarginMs: number;
  /** This worker's answered, unrecorded deliveries: not open requests (see claimDeliveries). */
  answered: string[];
}

/** A worker's offer of its idle slots for one write (see HandOff); `take` runs what was leased to it. */
export type DeliveryOffer = () => { handOff: HandOff; take(leased: ClaimedDelivery[]): void } | null;
