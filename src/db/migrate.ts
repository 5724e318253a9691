import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { backoffDelayMs, exponential } from '../lib/backoff.js';
import type { Database } from './connect.js';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  id: number;
  name: string;
  script: string;
}

export function listMigrations(dir = migrationsDir): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), script: readFileSync(dir + f, 'utf8') }));
}

export interface Statement {
  /** The SQL without its comments, whitespace collapsed. */
  text: string;
  /** The `--` comments written above or beside it, joined. */
  comments: string;
}

/**
 * A migration script's statements, each with its comments. Dollar-quoted bodies ($$ … $$, a
 * function's) are kept whole so their inner semicolons do not split them; they are all the
 * migrations quote that way.
 */
export function splitStatements(script: string): Statement[] {
  const masked = script.replace(/\$\$[\s\S]*?\$\$/g, (body) => body.replace(/;/g, '\u0000'));
  const statements: Statement[] = [];
  let text = '';
  let comments: string[] = [];
  for (const line of masked.split('\n')) {
    const at = line.indexOf('--');
    if (at >= 0) comments.push(line.slice(at + 2).trim());
    const parts = (at >= 0 ? line.slice(0, at) : line).split(';');
    text += ` ${parts[0]}`;
    for (const part of parts.slice(1)) {
      if (text.trim()) statements.push({ text: text.replace(/\s+/g, ' ').trim().replace(/\u0000/g, ';'), comments: comments.join(' ') });
      text = ` ${part}`;
      comments = [];
    }
  }
  return statements;
}

/** What `migrate --dry-run` prints for one migration: its name, what its header says, and each statement's opening. */
export function describeMigration(m: Migration): string {
  const header = /^(?:--.*\n)+/.exec(m.script)?.[0].replace(/^--\s?/gm, '').replace(/\s+/g, ' ').trim();
  const lines = splitStatements(m.script).map((s) => `  ${s.text.length > 100 ? `${s.text.slice(0, 97)}...` : s.text}`);
  return [`would apply ${m.name}${header ? `: ${header}` : ''}`, ...lines].join('\n');
}

async function ensureTable(database: Database) {
  try {
    await database.exec(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  } catch (err) {
    // Two processes creating the table at once: the loser sees a duplicate type; the table exists.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}

export async function pendingMigrations(database: Database, dir?: string): Promise<Migration[]> {
  await ensureTable(database);
  const { rows } = await sql<{ id: number }>`select id from gatehouse_migrations`.execute(database.db);
  const applied = new Set(rows.map((r) => Number(r.id)));
  return listMigrations(dir).filter((m) => !applied.has(m.id));
}

// A migration waits at most this long for each lock, then rolls back and tries again. Below
// PostgreSQL's deadlock_timeout (1 s by default), so when a migration and live requests wait on each
// other the migration always gives way first: the requests go on, none fails on a deadlock.
export const LOCK_TIMEOUT_MS = 400;
const RETRY_FOR_MS = 5 * 60_000;
/** 250 ms doubling to 5 s, in [d/2, d): several processes migrating at once do not retry in step. */
export const LOCK_WAIT_BACKOFF = exponential({ firstMs: 250, capMs: 5000, jitter: 'equal' });

export interface MigrateOptions {
  dir?: string;
  /** How long a migration keeps trying to take its locks (default five minutes). */
  retryForMs?: number;
  /** A migration gave way to traffic holding its tables and will try again after `retryInMs`. */
  onLockWait?: (m: Migration, attempt: number, retryInMs: number) => void;
}

/**
 * Applies pending migrations in order. Each script starts by inserting its own row, in the same
 * implicit transaction as its statements, so a second process migrating at the same moment fails
 * on the primary key, rolls back, and finds the work done instead of racing it. On a database in
 * use, a migration that cannot take a lock within LOCK_TIMEOUT_MS rolls back and is retried with
 * growing pauses for up to five minutes (long transactions holding its tables), then fails saying so.
 */
export async function migrate(database: Database, onApplied: (m: Migration) => void = () => {}, opts: MigrateOptions = {}) {
  const applied: Migration[] = [];
  for (const m of await pendingMigrations(database, opts.dir)) {
    if (await applyOne(database, m, opts)) {
      applied.push(m);
      onApplied(m);
    }
  }
  return applied;
}

/** True once applied; false if another process applied it first. */
async function applyOne(database: Database, m: Migration, opts: MigrateOptions): Promise<boolean> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await database.exec(
        `SELECT set_config('lock_timeout', '${LOCK_TIMEOUT_MS}ms', true);\nINSERT INTO gatehouse_migrations (id, name) VALUES (${m.id}, '${m.name}');\n${m.script}`,
      );
      return true;
    } catch (err) {
      const e = err as { code?: string; constraint?: string; message?: string };
      if (e.code === '23505' && (e.constraint === 'gatehouse_migrations_pkey' || /gatehouse_migrations_pkey/.test(e.message ?? ''))) return false;
      if (e.code === '55P03' && Date.now() - started < (opts.retryForMs ?? RETRY_FOR_MS)) {
        const retryInMs = backoffDelayMs(LOCK_WAIT_BACKOFF, attempt);
        opts.onLockWait?.(m, attempt, retryInMs);
        await new Promise((r) => setTimeout(r, retryInMs));
        continue;
      }
      if (e.code === '55P03') {
        throw new Error(`migration ${m.name} could not take its locks for ${Math.round((Date.now() - started) / 1000)} s: long transactions hold its tables (see pg_stat_activity); nothing was changed`);
      }
      throw new Error(`migration ${m.name} failed: ${e.message}`);
    }
  }
}
