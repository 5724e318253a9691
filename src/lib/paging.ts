import { AppError } from './errors.js';

/**
 * Cursor pages for the short lists (workspaces, keys, endpoints, members, users, instances), kept
 * oldest first as they always were. The cursor is opaque to clients: the last row's creation time
 * and id.
 */
export interface PageRequest {
  /** Rows strictly after this row in (created_at, id) order. */
  after?: { createdAt: Date; id: string };
  /** Rows to answer; stores fetch one more to learn whether a next page exists. */
  limit: number;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export const DEFAULT_PAGE = 100;

export function pageRequest(q: { cursor?: string; limit?: number }): PageRequest {
  const limit = q.limit ?? DEFAULT_PAGE;
  return q.cursor === undefined ? { limit } : { limit, after: decodeCursor(q.cursor) };
}

/** `rows` as a store fetched them (`limit + 1`): the extra row only says that another page exists. */
export function toPage<R extends { created_at: Date; id: string }, T>(rows: R[], req: PageRequest, view: (row: R) => T): Page<T> {
  const more = rows.length > req.limit;
  const shown = more ? rows.slice(0, req.limit) : rows;
  const last = shown.at(-1);
  return { data: shown.map(view), next_cursor: more && last ? encodeCursor(last.created_at, last.id) : null };
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(iso ?? '');
  // A time PostgreSQL cannot hold (before 4713 BC) would fail in the query: the cursor is refused first.
  const year = createdAt.getUTCFullYear();
  if (!id || Number.isNaN(createdAt.getTime()) || year < 1 || year > 9999) {
    throw new AppError('validation_failed', 'cursor is not one this list gave out', { field: 'cursor' });
  }
  return { createdAt, id };
}
