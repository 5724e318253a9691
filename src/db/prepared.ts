import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

// Marks a hot statement to be prepared once per connection on PostgreSQL: its text starts with
// PREPARED, and it is parsed and analysed once per connection instead of on every execution. Only
// statements whose text is fixed are marked: each distinct text stays prepared on every connection
// for its lifetime. On PGlite the marker is a comment.
//
// Plans are not cached (plan_cache_mode = force_custom_plan, CONNECTION_SETUP): a generic plan made
// while the queue tables were nearly empty keeps scanning them once they are full (docs/decisions.md).
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

/** Sets up each new connection (Kysely's onCreateConnection): plans are never cached, see above. */
export const CONNECTION_SETUP = 'set plan_cache_mode = force_custom_plan';

/**
 * The pool as Kysely sees it: marked statements go out as named (prepared) statements. Each pg
 * client keeps one wrapper, so Kysely knows a client it has seen (and sets it up once) instead of
 * taking every checkout for a new connection.
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    const query = ((text: unknown, values?: unknown[]) =>
      typeof text === 'string' && text.startsWith(PREPARED)
        ? client.query({ name: nameOf(text), text, values })
        : client.query(text as string, values)) as unknown as PostgresPoolClient['query'];
    return { query, release: (destroy?: boolean) => client.release(destroy) };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) wrappers.set(client, (wrapper = wrap(client)));
      return wrapper;
    },
    end: () => pool.end(),
  };
}
