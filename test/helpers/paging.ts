import { expect } from 'vitest';
import type { TestApp } from './app.js';

/** Follows a list's next_cursor `limit` rows at a time; the rows in the order given, and how many pages it took. */
export async function pageThrough<T = { id: string }>(t: TestApp, key: string, url: string, limit: number): Promise<{ rows: T[]; pages: number }> {
  const rows: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const res = await t.call(key, 'GET', `${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.raw).toBe(200);
    expect((res.body.data as T[]).length).toBeLessThanOrEqual(limit);
    rows.push(...(res.body.data as T[]));
    cursor = res.body.next_cursor as string | null;
    pages++;
  } while (cursor);
  return { rows, pages };
}
