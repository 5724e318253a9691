import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREPARED } from '../../src/db/prepared.js';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe.runIf(TEST_DB === 'postgres')('statements marked as prepared (PostgreSQL)', () => {
  it('are prepared once per connection and reused; unmarked statements are not prepared', async () => {
    const { prepared, answers } = await t.database.db.connection().execute(async (c) => {
      const answers: number[] = [];
      for (const n of [1, 2, 3]) answers.push((await sql<{ n: number }>`/* prepared */ select ${n}::int + 1 as n`.execute(c)).rows[0].n);
      await sql`select 'not marked' as x`.execute(c);
      const rows = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(c);
      return { prepared: rows.rows, answers };
    });
    expect(answers).toEqual([2, 3, 4]);
    expect(prepared).toHaveLength(1);
    expect(prepared[0].name).toMatch(/^gh_[0-9a-f]{24}$/);
    expect(prepared[0].statement.startsWith(PREPARED)).toBe(true);
  });

  it('are planned on every execution, for the tables as they are then, never from a cached plan', async () => {
    const plans = await t.database.db.connection().execute(async (c) => {
      // PostgreSQL would switch to its cached generic plan after five executions.
      for (let i = 0; i < 12; i++) await sql`/* prepared */ select ${i}::int * 2 as n`.execute(c);
      return (await sql<{ generic_plans: string; custom_plans: string }>`select generic_plans, custom_plans from pg_prepared_statements
        where statement like '%::int * 2 as n'`.execute(c)).rows;
    });
    expect(plans).toHaveLength(1);
    expect(Number(plans[0].generic_plans)).toBe(0);
    expect(Number(plans[0].custom_plans)).toBe(12);
  });

  it('runs inside transactions and reports errors like any statement', async () => {
    await expect(t.database.db.transaction().execute((trx) => sql`/* prepared */ select 1 / ${0}::int`.execute(trx))).rejects.toThrow(/division by zero/);
    const r = await t.database.db.transaction().execute((trx) => sql<{ n: number }>`/* prepared */ select ${41}::int + 1 as n`.execute(trx));
    expect(r.rows[0].n).toBe(42);
  });
});

describe.runIf(TEST_DB === 'pglite')('statements marked as prepared (PGlite)', () => {
  it('run as ordinary statements: the marker is a comment', async () => {
    const r = await sql<{ n: number }>`/* prepared */ select ${1}::int + 1 as n`.execute(t.database.db);
    expect(r.rows[0].n).toBe(2);
  });
});
