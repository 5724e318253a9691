import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DB } from '../../src/db/types.js';
import type { ClaimedDelivery } from '../../src/modules/webhooks/queue.js';
import { anyDeliveryDue, claimDeliveries } from '../../src/modules/webhooks/store-deliveries.js';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';

// A claim behind another endpoint's backlog reads only its own rows. Endpoint A has 50,000 due
// deliveries and no free slot (its max_in_flight is taken by deliveries another worker holds), so
// its per-endpoint lateral has nothing to take; endpoint B has three due. A claim can take only B's,
// and it must reach them without reading through A's backlog, whatever the statistics say (the plan
// once walked an index on due time alone and filtered by endpoint: migration 009).
// PostgreSQL counts the rows read (this transaction's counters on the table and its indexes), so the
// bound is on rows, never on time: a claim that keeps to its rows reads tens, one that scans the
// backlog at least 50,000.
// PostgreSQL only: statistics, autovacuum and prepared statements (a comment on PGlite) are the
// server's, and they are what decides the plan here.
const BACKLOG = 50_000;
const A_SLOTS = 4;
const B_DUE = 3;
const MAX_TUPLES_READ = 1_000;

let t: TestDatabase;
let db: Kysely<DB>;
const org = 'org_isolation000000000000000';
const ids = { wsA: 'ws_isolation00000000000000a', wsB: 'ws_isolation00000000000000b', epA: 'ep_isolation00000000000000a', epB: 'ep_isolation00000000000000b' };

/** `n` events of `ws`, one delivery each to `ep`, in one statement; event ids are numbered after `from`, due oldest first. */
async function insertDeliveries(ep: string, ws: string, from: number, n: number, status: 'pending' | 'delivering', dueAgo: string) {
  await sql`with ev as (
      insert into events (id, workspace_id, type, payload)
      select 'msg_' || lpad((${from}::int + g)::text, 26, '0'), ${ws}, 'lead.created', '{}'::jsonb from generate_series(1, ${n}::int) g
      returning id
    )
    insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, max_attempts, next_attempt_at, locked_by, locked_until)
    select 'dlv_' || substr(id, 5) || '_1', ${ws}, ${ep}, id, ${status}, 9,
      now() - ${dueAgo}::interval + (substr(id, 5)::bigint - ${from}::int) * interval '1 ms',
      case when ${status} = 'delivering' then 'another-worker' end,
      case when ${status} = 'delivering' then now() + interval '1 hour' end
    from ev`.execute(db);
}

/** Tuples read from webhook_deliveries, sequentially or through any of its indexes, so far in this transaction. */
async function deliveryReads(trx: Kysely<DB>) {
  const r = await sql<{ tuples: string; scans: string }>`
    select sum(pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid)) as tuples,
      sum(pg_stat_get_xact_numscans(c.oid)) as scans
    from pg_class c
    where c.oid = 'webhook_deliveries'::regclass
      or c.oid in (select indexrelid from pg_index where indrelid = 'webhook_deliveries'::regclass)`.execute(trx);
  return { tuples: Number(r.rows[0].tuples), scans: Number(r.rows[0].scans) };
}

class Undo extends Error {}
type Claim = (trx: Kysely<DB>) => Promise<ClaimedDelivery[]>;

/** Runs `claim` in a transaction rolled back afterwards, so every case sees the same queue. */
async function measure(claim: Claim) {
  let out: { claimed: ClaimedDelivery[]; tuples: number; scans: number } | undefined;
  await db.transaction().execute(async (trx) => {
    const before = await deliveryReads(trx);
    const claimed = await claim(trx);
    const after = await deliveryReads(trx);
    out = { claimed, tuples: after.tuples - before.tuples, scans: after.scans - before.scans };
    throw new Undo();
  }).catch((err) => {
    if (!(err instanceof Undo)) throw err;
  });
  return out!;
}

/** As a worker makes it, with workspace shares (and borrowing beyond them). */
const withShares: Claim = (trx) => claimDeliveries(trx, 'isolation-test', 32, 30_000, { workspaces: { cap: 16, borrowCap: 32, held: new Map() } });
const claims: Record<'bare' | 'shares' | 'probed', Claim> = {
  /** The claim statement alone. */
  bare: (trx) => claimDeliveries(trx, 'isolation-test', 32, 30_000),
  shares: withShares,
  /** As an idle worker makes it: first the probe (anything due at all?), then the claim. */
  probed: async (trx) => ((await anyDeliveryDue(trx)) ? withShares(trx) : []),
};

async function expectOnlyB(claim: Claim) {
  const { claimed, tuples, scans } = await measure(claim);
  expect(tuples, `webhook_deliveries tuples read by one claim (${scans} scans)`).toBeLessThan(MAX_TUPLES_READ);
  expect(claimed.map((d) => d.endpoint_id)).toEqual(Array(B_DUE).fill(ids.epB));
}

const plannerRows = async () =>
  (await sql<{ reltuples: number }>`select reltuples from pg_class where oid = 'webhook_deliveries'::regclass`.execute(db)).rows[0].reltuples;

// The cases run in order: each one takes the statistics a step further.
describe.runIf(TEST_DB === 'postgres')("a claim behind another endpoint's backlog of 50,000 (PostgreSQL)", () => {
  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.database.db;
    // Statistics change only when this file says so, never by autovacuum mid-test.
    for (const table of ['webhook_deliveries', 'events']) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = off)`.execute(db);
    await sql`insert into organizations (id, name, plan) values (${org}, 'isolation', 'starter')`.execute(db);
    await sql`insert into workspaces (id, organization_id, name) values (${ids.wsA}, ${org}, 'a'), (${ids.wsB}, ${org}, 'b')`.execute(db);
    await sql`insert into webhook_endpoints (id, workspace_id, url, events, max_in_flight) values
      (${ids.epA}, ${ids.wsA}, 'https://a.example/hook', '{lead.created}', ${A_SLOTS}::int),
      (${ids.epB}, ${ids.wsB}, 'https://b.example/hook', '{lead.created}', 10)`.execute(db);
    // A's slots are all held; B's three are the newest due, so oldest-first over all pending would reach A's first.
    await insertDeliveries(ids.epA, ids.wsA, 0, A_SLOTS, 'delivering', '2 hours');
    await insertDeliveries(ids.epB, ids.wsB, 100, B_DUE, 'pending', '1 second');
    await sql`analyze webhook_deliveries, events, webhook_endpoints`.execute(db);
    // The backlog arrives after the statistics were taken, as a burst does.
    await insertDeliveries(ids.epA, ids.wsA, 1_000, BACKLOG, 'pending', '1 hour');
  }, 60_000);
  afterAll(() => t?.drop());

  test('the queue is as described: A has the backlog and no free slot, B three due', async () => {
    const r = await sql<{ endpoint_id: string; status: string; n: number }>`
      select endpoint_id, status, count(*)::int as n from webhook_deliveries
      where next_attempt_at <= now() group by 1, 2 order by 1, 2`.execute(db);
    expect(r.rows).toEqual([
      { endpoint_id: ids.epA, status: 'delivering', n: A_SLOTS },
      { endpoint_id: ids.epA, status: 'pending', n: BACKLOG },
      { endpoint_id: ids.epB, status: 'pending', n: B_DUE },
    ]);
  });

  test("with statistics from before the backlog, a claim reads B's rows only", async () => {
    expect(await plannerRows()).toBeLessThan(100);
    await expectOnlyB(claims.bare);
    await expectOnlyB(claims.shares);
    await expectOnlyB(claims.probed);
  });

  test("with statistics of the whole backlog, a claim reads B's rows only", async () => {
    // A sample as large as the table: the same statistics on every run, B's rows among them.
    await sql`alter table webhook_deliveries alter column endpoint_id set statistics 10000`.execute(db);
    await sql`analyze webhook_deliveries, events`.execute(db);
    expect(await plannerRows()).toBeGreaterThan(BACKLOG);
    await expectOnlyB(claims.bare);
    await expectOnlyB(claims.shares);
    await expectOnlyB(claims.probed);
  });

  describe("with statistics taken while A's backlog was the only pending work (B's rows came after)", () => {
    beforeAll(async () => {
      await sql`delete from webhook_deliveries where endpoint_id = ${ids.epB}`.execute(db);
      await sql`analyze webhook_deliveries`.execute(db);
      await insertDeliveries(ids.epB, ids.wsB, 200, B_DUE, 'pending', '1 second');
    });

    test("the claim reads B's rows only", async () => {
      await expectOnlyB(claims.bare);
      await expectOnlyB(claims.shares);
    });

    // With statistics that see one endpoint among the pending rows (as here, and as ANALYZE's
    // default sample says whenever it misses B's three rows), a probe written as an EXISTS was
    // planned as a scan of every pending delivery and read all of A's backlog (50,033 tuples); it
    // has no parameters, so a connection kept that plan. It now goes endpoint by endpoint.
    // Measured in beforeAll, so an error in measuring fails the suite.
    let probed: Awaited<ReturnType<typeof measure>>;
    beforeAll(async () => {
      probed = await measure(claims.probed);
      expect(probed.claimed.map((d) => d.endpoint_id)).toEqual(Array(B_DUE).fill(ids.epB));
    });
    test("the idle worker's probe reads B's rows only", () => {
      expect(probed.tuples, `webhook_deliveries tuples read by the probe and claim (${probed.scans} scans)`).toBeLessThan(MAX_TUPLES_READ);
    });
  });
});
