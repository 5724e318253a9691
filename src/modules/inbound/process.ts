import type { Logger } from 'pino';
import type { Database } from '../../db/connect.js';
import type { Executor } from '../../db/types.js';
import { nominalDelayMs, scheduleS } from '../../lib/backoff.js';
import type { QueueMetrics } from '../../queue/metrics.js';
import { createQueueRunner } from '../../queue/runner.js';
import { anyDue, reclaimExpired, type QueueTable } from '../../queue/table.js';
import { isKnownType, isReserved } from '../webhooks/catalog.js';
import { publishMany } from '../webhooks/publish.js';
import { INBOUND_CHANNEL } from './kinds.js';
import { normalize } from './normalize.js';
import * as queueStore from './store-queue.js';
import type { Due } from './store-queue.js';

/** Delays before each retry of a failed processing; the last failure marks the event failed. */
export const INBOUND_RETRY_SCHEDULE_S = [5, 30, 120, 600, 3600];
const BATCH_GAP_MS = 100;

/** The inbound events table as the queue sees it: after `maxAttempts` failures an event has failed. */
export const inboundTable = (maxAttempts: number): QueueTable => ({
  table: 'inbound_events', due: 'next_attempt_at', waiting: 'pending', held: 'processing', dead: 'failed', maxAttempts: String(Math.trunc(maxAttempts)), dueAgainNow: true,
});

/** An endpoint-style filter: exact types, `prefix.*`, or `*`. */
export const matchesFilter = (filter: readonly string[], type: string) =>
  filter.some((f) => f === '*' || f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));

export interface InboundWorkerOptions {
  database: Database;
  log: Logger;
  queueMetrics?: QueueMetrics;
  /** Batches processed at once, each in its own transaction. */
  concurrency?: number;
  pollMs?: number;
  retryScheduleS?: readonly number[];
  /** Events taken and committed together (default 100). */
  batchSize?: number;
}

/**
 * Turns received events into Gatehouse events. A batch of due events is taken with
 * `FOR UPDATE SKIP LOCKED` inside the transaction that publishes them to the outbound side and
 * marks them done: any number of workers share the work, and a worker that dies mid-batch has its
 * transaction rolled back, so its events are simply still due (no lease to wait out). Nothing is
 * lost and nothing is published twice.
 */
export function createInboundWorker(o: InboundWorkerOptions) {
  const { db } = o.database;
  const schedule = o.retryScheduleS ?? INBOUND_RETRY_SCHEDULE_S;
  const maxAttempts = schedule.length + 1;
  // The delay is picked inside the UPDATE that counts the failure (reading attempts first would
  // cost a round trip), from the steps of the one backoff policy: index k is retry k + 1.
  const retryBackoff = scheduleS(schedule);
  const stepsS = Array.from({ length: schedule.length }, (_, k) => nominalDelayMs(retryBackoff, k + 1) / 1000);
  const batchSize = o.batchSize ?? 100;
  // Events are taken inside the transaction that processes them (no lease); an earlier version held
  // them with a lease, as status 'processing', and those come back when it ends.
  const table = inboundTable(maxAttempts);
  // When the last batch was not full, the next waits a moment (the receivers' next NOTIFY), so a
  // steady stream is processed in batches rather than one small transaction after another.
  let lastPartial = 0;

  /** What an event becomes: its provider type and the Gatehouse events to publish (catalogued, within the source's filter). */
  async function prepare(trx: Executor, ev: Due, known: Map<string, boolean>) {
    const n = normalize(ev.provider, Buffer.from(ev.body), ev.content_type);
    const items: typeof n.items = [];
    for (const it of n.items) {
      // A payload cannot speak in Gatehouse's name, and only catalogued types go out.
      const key = `${ev.workspace_id}|${it.type}`;
      if (!known.has(key)) known.set(key, !isReserved(it.type) && (await isKnownType(trx, ev.workspace_id, it.type)));
      if (!known.get(key)) continue;
      if (ev.events && !matchesFilter(ev.events, it.type)) continue;
      items.push(it);
    }
    return { ev, providerType: n.providerType, items, unmapped: n.items.length === 0, refused: n.refused };
  }

  /** Publishes the events' items and marks the events done, in the caller's transaction. */
  async function publishAndMark(trx: Executor, batch: Array<Awaited<ReturnType<typeof prepare>>>) {
    const events = batch.flatMap(({ ev, providerType, items }) =>
      items.map((it, i) => ({
        workspaceId: ev.workspace_id,
        type: it.type,
        payload: { inbound_event_id: ev.id, source: { id: ev.source_id, provider: ev.provider, name: ev.name }, provider_type: providerType,
          received_at: ev.received_at.toISOString(), data: it.data, ...(it.context ? { context: it.context } : {}) },
        // Keyed by event, replay and item: a replay publishes anew, nothing else can publish twice.
        idempotencyKey: `inbound:${ev.id}:${ev.replays}:${i}`,
      })),
    );
    const ids = (await publishMany(trx, events)).map((p) => p.eventId);
    let next = 0;
    const outcomes = batch.map(({ ev, providerType, items, unmapped, refused }) => {
      const published = ids.slice(next, (next += items.length));
      const note = refused ?? (unmapped ? 'no Gatehouse event type for this payload' : null);
      const status = refused ? 'failed' : items.length ? 'processed' : 'ignored';
      return { id: ev.id, status, providerType, eventTypes: items.map((it) => it.type), published, note } as const;
    });
    await queueStore.markProcessed(trx, outcomes);
  }

  /** One transaction: take up to `limit` due events, publish, mark done. The ids it took, for a retry one by one. */
  async function processBatch(limit: number, only?: string): Promise<string[]> {
    const taken: string[] = [];
    if (!only) lastPartial = 0;
    await db.transaction().execute(async (trx) => {
      const due = await queueStore.takeDue(trx, limit, only);
      taken.push(...due.map((d) => d.id));
      if (!only && due.length < limit) lastPartial = Date.now();
      if (due.length === 0) return;
      const known = new Map<string, boolean>();
      const prepared = [];
      for (const ev of due) prepared.push(await prepare(trx, ev, known));
      await publishAndMark(trx, prepared);
    }).catch((err) => {
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { taken });
    });
    return taken;
  }

  async function failed(id: string, err: unknown) {
    const message = (err as Error).message.slice(0, 1000);
    const row = await queueStore.markFailed(db, id, message, maxAttempts, stepsS);
    const attempts = row?.attempts ?? 0;
    if (row?.status === 'pending') loop.wakeAt(new Date(row.next_attempt_at).getTime());
    o.log.warn({ inbound_event_id: id, attempt: attempts, err: message }, attempts >= maxAttempts ? 'inbound event failed for good' : 'inbound event processing failed; will retry');
  }

  /** A batch together; if it fails, each of its events alone, so one bad event fails by itself. */
  async function run() {
    try {
      await processBatch(batchSize);
    } catch (err) {
      for (const id of (err as { taken?: string[] }).taken ?? []) {
        await processBatch(1, id).catch((e) => failed(id, e));
      }
    }
  }

  const loop = createQueueRunner({
    name: 'inbound',
    database: o.database,
    log: o.log,
    metrics: o.queueMetrics,
    channel: INBOUND_CHANNEL,
    concurrency: o.concurrency ?? 2,
    pollMs: o.pollMs,
    reclaim: () => reclaimExpired(db, table, 'the worker processing it stopped (lease expired)'),
    // A claim here is a look: the batch is taken inside the transaction that processes it.
    claim: async (free) => {
      if (free === 0) return [];
      // Right after a short batch, wait out the gap (so a trickle is taken in batches), then look again.
      const gapEnds = lastPartial + BATCH_GAP_MS;
      if (Date.now() < gapEnds) {
        loop.wakeAt(gapEnds);
        return [];
      }
      return (await anyDue(db, table)) ? [null] : [];
    },
    run,
  });
  return { start: () => loop.start(), stop: () => loop.stop() };
}
export type InboundWorker = ReturnType<typeof createInboundWorker>;
