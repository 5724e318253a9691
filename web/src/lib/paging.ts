/** The portal shows whole lists; the API answers them a page at a time (`{data, next_cursor}`). */

/** The largest page the API gives: the fewest round trips for a whole list. */
export const PAGE_LIMIT = 500;

export interface CursorPage<T> {
  data: T[];
  next_cursor?: string | null;
}

/**
 * Every row of a cursor-paged list, as `{data}`: asks `page(cursor)` until next_cursor is null.
 * A cursor given twice would loop forever, so it is an error instead.
 */
export async function fetchAllPages<T>(page: (cursor: string | undefined) => Promise<CursorPage<T>>): Promise<{ data: T[] }> {
  const data: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const answer = await page(cursor);
    data.push(...answer.data);
    const next = answer.next_cursor;
    if (!next) return { data };
    if (seen.has(next)) throw new Error(`the list gave the cursor ${next} twice`);
    seen.add(next);
    cursor = next;
  }
}
