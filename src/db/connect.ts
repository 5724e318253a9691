import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  // No dataDir: in memory (tests), started from loadDataDir (a dumpDataDir tar) when one is given.
  | { kind: 'pglite'; dataDir?: string; loadDataDir?: Blob };

// Both drivers hand back the same JS types, so code and tests do not differ between them:
// bigint as string (it can exceed 2^53) and date as 'YYYY-MM-DD' (no timezone shift).
const OID_INT8 = 20;
const OID_DATE = 1082;
const asText = (value: string) => value;

export async function connectDatabase(target: DatabaseTarget, log: Logger): Promise<Database> {
  return target.kind === 'postgres' ? connectPostgres(target.url, log) : connectPGlite(target.dataDir, log, target.loadDataDir);
}

// PGlite allocates PostgreSQL's shared memory through Emscripten's anonymous mmap, which zeroes it:
// every byte of shared_buffers is resident from the start, whatever the database holds. initdb's
// 128 MB made about 150 MB of the idle process; 16 MB keeps some 2,000 hot pages, and a page beyond
// them costs one read from the operating system's page cache (docs/operations.md, "Memory").
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

async function connectPGlite(dataDir: string | undefined, log: Logger, loadDataDir?: Blob): Promise<Database> {
  let location: string | undefined;
  if (dataDir) {
    location = join(dataDir, 'pgdata');
    // The database folder holds everything but the master key: readable by its owner only.
    mkdirSync(location, { recursive: true, mode: 0o700 });
    if (!existsSync(join(location, 'PG_VERSION'))) await createPGliteDatabase(location, log);
  }
  const client = await PGlite.create(location, {
    parsers: { [OID_INT8]: asText, [OID_DATE]: asText },
    startParams: PGLITE_START_PARAMS,
    loadDataDir,
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

/**
 * Runs initdb for a new embedded database in a child process that exits when it is done. PGlite's
 * initdb starts a second PostgreSQL and the initdb program, each with a WebAssembly memory of its own;
 * in the service's process they stayed resident until a garbage collection that an idle process may
 * never run (the first start idled at 480-870 MB; now at 270-320 MB, as later starts do).
 */
async function createPGliteDatabase(location: string, log: Logger): Promise<void> {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = `const [entry, dir, params] = process.argv.slice(1);
require(entry).PGlite.create(dir, { startParams: JSON.parse(params) }).then((pg) => pg.close())
  .catch((err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; });`;
  const started = Date.now();
  try {
    await promisify(execFile)(process.execPath, ['-e', script, entry, location, JSON.stringify(PGLITE_START_PARAMS)]);
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`creating the embedded database in ${location} failed: ${detail}`);
  }
  log.info({ location, ms: Date.now() - started }, 'embedded database created');
}

async function connectPostgres(url: string, log: Logger): Promise<Database> {
  const types: pg.CustomTypesConfig = {
    getTypeParser: (oid, format) => (oid === OID_INT8 || oid === OID_DATE ? asText : pg.types.getTypeParser(oid, format)),
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
