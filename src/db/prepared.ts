import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

// Marks a hot statement to be prepared once per connection on PostgreSQL: its text starts with
// PREPARED. An unnamed statement is parsed and planned again on every execution, and for the claim
// and record statements of the delivery workers planning cost as much as running them (3 ms a
// claim). Only statements whose text is fixed are marked: each distinct text stays prepared on every
// connection for its lifetime. On PGlite the marker is a comment.
export const PREPARED = '/* prepared */';

const names = new Map<string, string>();
const nameOf = (text: string) => {
  let name = names.get(text);
  if (!name) {
    name = `gh_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
};

/** The pool as Kysely sees it: marked statements go out as named (prepared) statements. */
export function preparingPool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      const query = ((text: unknown, values?: unknown[]) =>
        typeof text === 'string' && text.startsWith(PREPARED)
          ? client.query({ name: nameOf(text), text, values })
          : client.query(text as string, values)) as unknown as PostgresPoolClient['query'];
      return { query, release: (destroy?: boolean) => client.release(destroy) };
    },
    end: () => pool.end(),
  };
}
