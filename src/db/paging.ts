import { sql, type SelectQueryBuilder } from 'kysely';
import type { PageRequest } from '../lib/paging.js';

/** How a list's rows are named and ordered, when not `table.id` oldest first. */
export interface PageKeys {
  /** The name the query gives the table (`members as m` → `m`). */
  as?: string;
  /** The column that orders rows created in the same instant; `id` by default. */
  id?: string;
  /** Columns that, with `id`, name the cursor's row (a member is a user within one workspace). */
  within?: Record<string, string>;
  /** `desc`: newest first (API keys always listed so). */
  order?: 'asc' | 'desc';
}

/**
 * One page of `table` in (created_at, id) order, one row more than asked. The cursor row's exact
 * timestamp is read back because a JS Date drops PostgreSQL's microseconds; if that row is gone,
 * the cursor's millisecond time is used, which can repeat a row but never skips one.
 */
export function pageAfter<DB, TB extends keyof DB & string, O>(
  q: SelectQueryBuilder<DB, TB, O>,
  table: string,
  page: PageRequest,
  keys: PageKeys = {},
): SelectQueryBuilder<DB, TB, O> {
  const name = keys.as ?? table;
  const idColumn = keys.id ?? 'id';
  const order = keys.order ?? 'asc';
  const created = sql.ref(`${name}.created_at`);
  const id = sql.ref(`${name}.${idColumn}`);
  let out = q.orderBy(created, order).orderBy(id, order).limit(page.limit + 1);
  if (page.after) {
    const { createdAt, id: after } = page.after;
    // Newest first, the fallback rounds up instead, so that it too repeats rather than skips.
    const at = order === 'asc' ? createdAt : new Date(createdAt.getTime() + 1);
    const within = Object.entries(keys.within ?? {}).map(([column, value]) => sql` and c.${sql.ref(column)} = ${value}`);
    const lookup = sql`select c.created_at from ${sql.table(table)} c where c.${sql.ref(idColumn)} = ${after}${within.length ? sql.join(within, sql``) : sql``}`;
    const exact = sql`coalesce((${lookup}), ${at})`;
    out = out.where(order === 'asc' ? sql<boolean>`(${created}, ${id}) > (${exact}, ${after})` : sql<boolean>`(${created}, ${id}) < (${exact}, ${after})`);
  }
  return out;
}
