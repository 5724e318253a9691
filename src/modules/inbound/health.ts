import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { ownEvent } from '../webhooks/catalog.js';
import { publish } from '../webhooks/publish.js';
import * as store from './store.js';

/** A source "usually receives" when it received on at least this many of the last 7 days. */
const USUAL_DAYS = 3;

export async function sourceHealth(db: Kysely<DB>, sourceId: string, silentAfterS: number) {
  const { days, totals, reasons } = await store.sourceHealth(db, sourceId);
  const { last, received_24h, rejected_24h } = totals;
  return {
    last_received_at: last?.toISOString() ?? null,
    received_24h,
    rejected_24h,
    by_day: days,
    rejections_by_reason: Object.fromEntries(reasons.map((x) => [x.reason, Number(x.n)])),
    silent: last !== null && Date.now() - last.getTime() > silentAfterS * 1000,
    silent_after_s: silentAfterS,
  };
}

/**
 * Emits `gatehouse.inbound.silent` for each enabled source that usually receives and has been
 * silent longer than its limit, once per silence (the next event received starts a new one).
 */
export async function alertSilentSources(db: Kysely<DB>, defaultSilentAfterS: number): Promise<number> {
  const silent = await store.silentSources(db, defaultSilentAfterS, USUAL_DAYS);
  for (const s of silent) {
    await db.transaction().execute(async (trx) => {
      const payload = { source: { id: s.id, provider: s.provider, name: s.name }, last_received_at: s.last.toISOString(), silent_for_s: Math.round((Date.now() - s.last.getTime()) / 1000), silent_after_s: s.after_s };
      await publish(trx, s.workspace_id, { ...ownEvent('gatehouse.inbound.silent', payload), idempotencyKey: `inbound-silent:${s.id}:${s.last.toISOString()}` });
      await store.markSilentAlerted(trx, s.workspace_id, s.id);
    });
  }
  return silent.length;
}

/** Retention, one batch: finished events (never one still waiting) received before `olderThan`, oldest first. */
export const pruneInboundEvents = (db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> => store.pruneEvents(db, olderThan, limit);

/** Retention, one batch: refusals received before `olderThan`, oldest first. */
export const pruneInboundRejections = (db: Kysely<DB>, olderThan: Date, limit: number): Promise<number> => store.pruneRejections(db, olderThan, limit);
