import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/types.js';

/**
 * How a kind of work is laid out in its own table: the statuses of waiting, held (leased) and
 * dead work, the column saying when it is due, and where its attempt limit lives. From it come the
 * statements every kind shares: the probe, the reclaim of expired leases, and the depth for metrics.
 * Names here are fixed identifiers of the schema, never input.
 */
export interface QueueTable {
  table: 'jobs' | 'webhook_deliveries' | 'inbound_events';
  due: 'run_at' | 'next_attempt_at';
  waiting: string;
  held: string;
  dead: string;
  /** An expression for the most attempts an item may have: a column, or a constant. */
  maxAttempts: string;
  /** Set to now() when an item goes to the dead letters (or cleared when it waits again). */
  finishedAt?: 'finished_at';
  /**
   * Whether reclaimed work is due at once. Otherwise it keeps its due time, which has passed: it
   * takes its place among the oldest again rather than behind everything that came due meanwhile.
   */
  dueAgainNow?: boolean;
}

const id = (name: string) => sql.raw(`"${name}"`);

/** Anything due at all? One index probe, so an idle worker's poll costs next to nothing. */
export async function anyDue(db: Kysely<DB>, t: QueueTable): Promise<boolean> {
  const r = await sql`select 1 from ${id(t.table)} where status = ${t.waiting} and ${id(t.due)} <= now() limit 1`.execute(db);
  return r.rows.length > 0;
}

/**
 * Work whose holder stopped (its lease ran out) waits again, or goes to the dead
 * letters when that was its last allowed attempt: the interrupted attempt counts, so work that kills
 * its worker cannot run forever. Returns how many leases had expired.
 */
export async function reclaimExpired(db: Kysely<DB>, t: QueueTable, note = 'the worker holding it stopped (lease expired)'): Promise<number> {
  const exhausted = sql`attempts >= ${sql.raw(t.maxAttempts)}`;
  const r = await sql`
    update ${id(t.table)} set locked_by = null, locked_until = null, ${t.dueAgainNow ? sql`${id(t.due)} = now(),` : sql``}
      status = case when ${exhausted} then ${t.dead} else ${t.waiting} end,
      ${t.finishedAt ? sql`${id(t.finishedAt)} = case when ${exhausted} then now() end,` : sql``}
      last_error = ${note}
    where status = ${t.held} and locked_until < now()`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Work due now that nobody holds, and how long the oldest of it has waited (seconds). */
export async function depthOf(db: Kysely<DB>, t: QueueTable): Promise<{ depth: number; oldestS: number }> {
  const r = await sql<{ depth: number; oldest_s: number | null }>`
    select count(*)::int as depth, extract(epoch from now() - min(${id(t.due)}))::float8 as oldest_s
    from ${id(t.table)} where status = ${t.waiting} and ${id(t.due)} <= now()`.execute(db);
  return { depth: r.rows[0]?.depth ?? 0, oldestS: r.rows[0]?.oldest_s ?? 0 };
}
