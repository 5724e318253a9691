import { sql, type SelectQueryBuilder } from 'kysely';
import type { PageRequest } from '../lib/paging.js';

/**
 * One page of `table` in (created_at, id) order, one row more than asked. The cursor row's exact
 * timestamp is read back because a JS Date drops PostgreSQL's microseconds; if that row is gone,
 * the cursor's millisecond time is used, which can repeat a row but never skips one.
 */
export function pageAfter<DB, TB extends keyof DB & string, O>(
  q: SelectQueryBuilder<DB, TB, O>,
  table: TB,
  page: PageRequest,
): SelectQueryBuilder<DB, TB, O> {
  const createdAt = sql.ref(`${table}.created_at`);
  const id = sql.ref(`${table}.id`);
  let out = q.orderBy(createdAt, 'asc').orderBy(id, 'asc').limit(page.limit + 1);
  if (page.after) {
    const { createdAt: at, id: after } = page.after;
    const exact = sql`coalesce((select c.created_at from ${sql.table(table)} c where c.id = ${after}), ${at})`;
    out = out.where(sql<boolean>`(${createdAt}, ${id}) > (${exact}, ${after})`);
  }
  return out;
}
