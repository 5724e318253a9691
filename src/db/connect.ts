import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { PGliteDialect } from './pglite-dialect.js';
import { CONNECTION_SETUP, preparingPool } from './prepared.js';
import type { DB } from './types.js';

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Kysely<DB>;
  /** Subscribes to a NOTIFY channel; on PostgreSQL the subscription survives reconnects. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  /** Runs a multi-statement script as one implicit transaction (migrations). */
  exec(script: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Payload a subscriber receives after a reconnect, when notifications may have been missed. */
export const RESYNC = '*';

export type DatabaseTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir?: string }; // no dataDir: in memory (tests)

// Both drivers hand back the same JS types, so code and tests do not differ between them:
// bigint as string (it can exceed 2^53) and date as 'YYYY-MM-DD' (no timezone shift).
const OID_INT8 = 20;
const OID_DATE = 1082;
const asText = (value: string) => value;

export async function connectDatabase(target: DatabaseTarget, log: Logger): Promise<Database> {
  return target.kind === 'postgres' ? connectPostgres(target.url, log) : connectPGlite(target.dataDir, log);
}

async function connectPGlite(dataDir: string | undefined, log: Logger): Promise<Database> {
  let location: string | undefined;
  if (dataDir) {
    location = join(dataDir, 'pgdata');
    // The database folder holds everything but the master key: readable by its owner only.
    mkdirSync(location, { recursive: true, mode: 0o700 });
  }
  const client = await PGlite.create(location, {
    parsers: { [OID_INT8]: asText, [OID_DATE]: asText },
  });
  log.debug({ location: location ?? 'memory' }, 'embedded database opened');
  const db = new Kysely<DB>({ dialect: new PGliteDialect(client) });
  return {
    kind: 'pglite',
    db,
    listen: async (channel, onMessage) => {
      const unlisten = await client.listen(channel, onMessage);
      return () => unlisten();
    },
    exec: async (script) => {
      await client.exec(script);
    },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

async function connectPostgres(url: string, log: Logger): Promise<Database> {
  const types = {
    getTypeParser: (oid: number, format?: any) =>
      oid === OID_INT8 || oid === OID_DATE ? asText : pg.types.getTypeParser(oid, format),
  };
  const pool = new pg.Pool({ connectionString: url, max: 10, types, connectionTimeoutMillis: 5000 });
  // A client that loses its server emits 'error'; without a listener the process would crash. The
  // pool listens on idle clients only, so every client gets its own listener too, for the moments it
  // is checked out (its query fails and the pool discards it on release).
  const lost = (err: Error) => log.warn({ err: err.message }, 'database connection lost; the pool will reconnect');
  pool.on('error', lost);
  pool.on('connect', (client) => client.on('error', lost));
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({
      pool: preparingPool(pool),
      onCreateConnection: async (connection) => void (await connection.executeQuery(CompiledQuery.raw(CONNECTION_SETUP))),
    }),
  });
  const listener = createListener(url, log);
  return {
    kind: 'postgres',
    db,
    listen: listener.listen,
    exec: async (script) => {
      await pool.query(script);
    },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await listener.close();
      await db.destroy();
    },
  };
}

/** One dedicated connection for LISTEN, re-established (with every channel) after it drops. */
function createListener(url: string, log: Logger) {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (msg) => {
      for (const handler of handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    c.on('error', (err) => log.warn({ err: err.message }, 'LISTEN connection failed'));
    c.on('end', () => {
      if (client === c) client = undefined;
      connecting = undefined;
      if (!closed) scheduleReconnect();
    });
    await c.connect();
    for (const channel of handlers.keys()) await c.query(`LISTEN ${quoteIdent(channel)}`);
    client = c;
    return c;
  };

  const ensure = () => (client ? Promise.resolve(client) : (connecting ??= connect()));

  const scheduleReconnect = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      ensure().then(
        () => {
          log.info('LISTEN connection re-established');
          // Notifications sent while disconnected are gone: tell every subscriber to resync.
          for (const set of handlers.values()) for (const handler of set) handler(RESYNC);
        },
        () => scheduleReconnect(),
      );
    }, 1000);
    retryTimer.unref();
  };

  return {
    async listen(channel: string, onMessage: (payload: string) => void) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        const c = await ensure();
        await c.query(`LISTEN ${quoteIdent(channel)}`);
      }
      set.add(onMessage);
      return async () => {
        set.delete(onMessage);
      };
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
