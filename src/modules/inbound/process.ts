import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../db/connect.js';
import { newId } from '../../lib/ids.js';
import { createClaimLoop } from '../../jobs/loop.js';
import { isKnownType, isReserved } from '../webhooks/catalog.js';
import { publishMany } from '../webhooks/publish.js';
import { INBOUND_CHANNEL, type InboundProvider } from './kinds.js';
import { normalize } from './normalize.js';

/** Delays before each retry of a failed processing; the last failure marks the event failed. */
export const INBOUND_RETRY_SCHEDULE_S = [5, 30, 120, 600, 3600];
const RECLAIM_EVERY_MS = 5000;

interface Claimed {
  id: string;
  workspace_id: string;
  source_id: string;
  body: Uint8Array;
  content_type: string | null;
  attempts: number;
  replays: number;
  received_at: Date;
  provider: InboundProvider;
  name: string;
  events: string[] | null;
}

/** An endpoint-style filter: exact types, `prefix.*`, or `*`. */
export const matchesFilter = (filter: readonly string[], type: string) =>
  filter.some((f) => f === '*' || f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));

export interface InboundWorkerOptions {
  database: Database;
  log: Logger;
  concurrency?: number;
  pollMs?: number;
  leaseMs?: number;
  retryScheduleS?: readonly number[];
  /** Events claimed and committed together (default 100). */
  batchSize?: number;
}

/**
 * Turns received events into Gatehouse events: claims with a lease (any number of workers share
 * them; a killed one's claims come back), normalises, and publishes to the outbound side in the
 * same transaction that marks the event processed, so a crash at any point neither loses nor
 * doubles the fan-out.
 */
export function createInboundWorker(o: InboundWorkerOptions) {
  const { db } = o.database;
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const schedule = o.retryScheduleS ?? INBOUND_RETRY_SCHEDULE_S;
  const maxAttempts = schedule.length + 1;
  const leaseMs = o.leaseMs ?? 60_000;
  const batchSize = o.batchSize ?? 100;
  let lastReclaim = 0;
  let stopListening: (() => Promise<void>) | undefined;

  async function claimBatch(limit: number): Promise<Claimed[]> {
    if (Date.now() - lastReclaim > RECLAIM_EVERY_MS) {
      lastReclaim = Date.now();
      await sql`update inbound_events set locked_by = null, locked_until = null, next_attempt_at = now(),
          status = case when attempts >= ${maxAttempts} then 'failed' else 'pending' end,
          last_error = 'the worker processing it stopped (lease expired)'
        where status = 'processing' and locked_until < now()`.execute(db);
    }
    const r = await sql<Claimed>`
      with picked as (
        select id from inbound_events where status = 'pending' and next_attempt_at <= now()
        order by next_attempt_at limit ${limit} for update skip locked
      )
      update inbound_events e set status = 'processing', locked_by = ${workerId}, attempts = e.attempts + 1,
        locked_until = now() + make_interval(secs => ${leaseMs / 1000})
      from picked p, inbound_sources s
      where e.id = p.id and s.id = e.source_id
      returning e.id, e.workspace_id, e.source_id, e.body, e.content_type, e.attempts, e.replays, e.received_at, s.provider, s.name, s.events`.execute(db);
    return r.rows;
  }

  /** What an event becomes: its provider type and the Gatehouse events to publish (catalogued, within the source's filter). */
  async function prepare(ev: Claimed, known: Map<string, Promise<boolean>>) {
    const n = normalize(ev.provider, Buffer.from(ev.body), ev.content_type);
    const items: typeof n.items = [];
    for (const it of n.items) {
      // A payload cannot speak in Gatehouse's name, and only catalogued types go out.
      const key = `${ev.workspace_id}|${it.type}`;
      if (!known.has(key)) known.set(key, isReserved(it.type) ? Promise.resolve(false) : isKnownType(db, ev.workspace_id, it.type));
      if (!(await known.get(key))) continue;
      if (ev.events && !matchesFilter(ev.events, it.type)) continue;
      items.push(it);
    }
    return { ev, providerType: n.providerType, items, unmapped: n.items.length === 0 };
  }
  type Prepared = Awaited<ReturnType<typeof prepare>>;

  /**
   * Publishes the events' items and marks them done in ONE transaction: a crash anywhere leaves
   * them claimed, to be retried when the lease ends, and the idempotency keys (event, replay, item)
   * make that retry find what a lost attempt may have published.
   */
  async function commit(batch: Prepared[]) {
    await db.transaction().execute(async (trx) => {
      const events = batch.flatMap(({ ev, providerType, items }) =>
        items.map((it, i) => ({
          workspaceId: ev.workspace_id,
          type: it.type,
          payload: { inbound_event_id: ev.id, source: { id: ev.source_id, provider: ev.provider, name: ev.name }, provider_type: providerType,
            received_at: ev.received_at.toISOString(), data: it.data, ...(it.context ? { context: it.context } : {}) },
          // Keyed by event, replay and item: a retry after a crash finds the same event, a replay makes a new one.
          idempotencyKey: `inbound:${ev.id}:${ev.replays}:${i}`,
        })),
      );
      const ids = await publishMany(trx, events);
      let next = 0;
      const rows = batch.map(({ ev, providerType, items, unmapped }) => {
        const published = ids.slice(next, (next += items.length));
        const note = unmapped ? 'no Gatehouse event type for this payload' : null;
        return sql`(${ev.id}, ${items.length ? 'processed' : 'ignored'}, ${providerType}, ${items.map((it) => it.type)}::text[], ${published}::text[], ${note})`;
      });
      const done = await sql`
        update inbound_events e set status = x.status, provider_type = x.provider_type, event_types = x.event_types, published = x.published,
          last_error = x.note, processed_at = now(), locked_by = null, locked_until = null
        from (values ${sql.join(rows)}) as x(id, status, provider_type, event_types, published, note)
        where e.id = x.id and e.locked_by = ${workerId}`.execute(trx);
      // A lease lost meanwhile (another worker has the event now): undo all, and go one by one.
      if (Number(done.numAffectedRows ?? 0) !== batch.length) throw new LeaseLost();
    });
  }

  async function failed(ev: Claimed, err: unknown) {
    const last = ev.attempts >= maxAttempts;
    const delayS = schedule[Math.min(ev.attempts, schedule.length) - 1] ?? 0;
    o.log.warn({ inbound_event_id: ev.id, attempt: ev.attempts, err: (err as Error).message }, last ? 'inbound event failed for good' : 'inbound event processing failed; will retry');
    await db
      .updateTable('inbound_events')
      .set({ status: last ? 'failed' : 'pending', last_error: (err as Error).message.slice(0, 1000), locked_by: null, locked_until: null, next_attempt_at: new Date(Date.now() + delayS * 1000) })
      .where('id', '=', ev.id)
      .where('locked_by', '=', workerId)
      .execute();
  }

  /** A claimed batch together; if that fails, each event alone, so one bad event fails by itself. */
  async function run(batch: Claimed[]) {
    const known = new Map<string, Promise<boolean>>();
    const prepared = await Promise.allSettled(batch.map((ev) => prepare(ev, known)));
    const ready = prepared.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    try {
      if (ready.length === batch.length) return await commit(ready);
    } catch {
      // fall through to one by one
    }
    for (const [i, ev] of batch.entries()) {
      const p = prepared[i];
      try {
        if (p.status === 'rejected') throw p.reason;
        await commit([p.value]);
      } catch (err) {
        if (!(err instanceof LeaseLost)) await failed(ev, err);
      }
    }
  }

  // Each claim takes a batch; `concurrency` batches run at once.
  const loop = createClaimLoop({
    claim: async (free) => (free > 0 ? [await claimBatch(batchSize)].filter((b) => b.length > 0) : []),
    run,
    concurrency: o.concurrency ?? 2,
    pollMs: o.pollMs ?? 1000,
    log: o.log,
    what: 'inbound events',
  });
  return {
    id: workerId,
    async start() {
      stopListening = await o.database.listen(INBOUND_CHANNEL, loop.nudge);
      loop.start();
    },
    async stop() {
      await loop.stop();
      await stopListening?.();
    },
  };
}
export type InboundWorker = ReturnType<typeof createInboundWorker>;

class LeaseLost extends Error {}
