import { PGlite } from '@electric-sql/pglite';
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNING_KEY_FILE } from '../modules/audit/signing-key.js';
import { MASTER_KEY_FILE } from '../modules/vault/master-keys.js';

/** The embedded database's folder inside the data directory (see connect.ts). */
export const pgdataOf = (dataDir: string) => join(dataDir, 'pgdata');

export class BackupRefused extends Error {}

export const PG_DUMP_RECIPE = `gatehouse backup copies the embedded database. With DATABASE_URL (PostgreSQL) use its own tools:
  pg_dump --format=custom --file=gatehouse.dump "$DATABASE_URL"
  pg_restore --clean --if-exists --no-owner --dbname="$NEW_DATABASE_URL" gatehouse.dump
  DATABASE_URL="$NEW_DATABASE_URL" gatehouse restore --check
Keep GATEHOUSE_MASTER_KEYS in your secret store, apart from the dumps: a dump holds sealed secrets only.`;

/** Where backup puts the copy of the audit signing key: beside the archive, found there by restore. */
export const auditKeyCopyOf = (archive: string) => `${archive}.audit-signing.key`;

/**
 * A consistent copy of the embedded database (PGlite's own tar of its folder) and, when the
 * master key lives in the data directory, a copy of the key file beside the given path. The audit
 * signing key goes beside the archive too: without it the restored checkpoints no longer verify.
 * PGlite belongs to one process, so the service must be stopped: a live folder is refused.
 */
export async function backupEmbedded(dataDir: string, out: string, keyOut: string, opts: { force?: boolean } = {}) {
  const pgdata = pgdataOf(dataDir);
  if (!existsSync(join(pgdata, 'PG_VERSION'))) throw new BackupRefused(`no embedded database in ${dataDir}`);
  // PGlite writes postmaster.pid while a process has the folder open and removes it on close.
  if (existsSync(join(pgdata, 'postmaster.pid')) && !opts.force) {
    throw new BackupRefused(`the embedded database in ${dataDir} is open (a gatehouse serve or worker is running on it, or one stopped without closing it): stop it first, or pass --force if none is running`);
  }
  if (existsSync(out)) throw new BackupRefused(`${out} already exists: choose another --out, a backup is never overwritten`);
  const client = await PGlite.create(pgdata);
  try {
    const archive = await client.dumpDataDir('gzip');
    writeFileSync(out, Buffer.from(await archive.arrayBuffer()), { mode: 0o600, flag: 'wx' });
  } finally {
    await client.close();
  }
  const keyFile = join(dataDir, MASTER_KEY_FILE);
  const keyCopied = existsSync(keyFile);
  if (keyCopied) copyFileSync(keyFile, keyOut);
  const signingKey = join(dataDir, SIGNING_KEY_FILE);
  const auditKeyCopied = existsSync(signingKey);
  if (auditKeyCopied) writeFileSync(auditKeyCopyOf(out), readFileSync(signingKey), { mode: 0o600, flag: 'wx' });
  return { keyCopied, auditKeyCopied };
}

/**
 * Unpacks a backup into an empty data directory (an existing database is moved aside only with
 * `force`), and puts the key file in place when one is given.
 */
export async function restoreEmbedded(archive: string, dataDir: string, opts: { keyFile?: string; force?: boolean } = {}) {
  // Checked before anything moves: a wrong path must not leave the data folder half-changed.
  for (const [what, path] of [['backup archive', archive], ['key file', opts.keyFile]] as const) {
    if (path !== undefined && !existsSync(path)) throw new BackupRefused(`no ${what} at ${path}`);
  }
  const pgdata = pgdataOf(dataDir);
  let movedAside: string | undefined;
  if (existsSync(pgdata) && readdirSync(pgdata).length > 0) {
    if (!opts.force) throw new BackupRefused(`${pgdata} already holds a database: restore into an empty GATEHOUSE_DATA_DIR, or pass --force to move it aside`);
    movedAside = `${pgdata}.before-restore-${Date.now()}`;
    renameSync(pgdata, movedAside);
  }
  const keyPath = join(dataDir, MASTER_KEY_FILE);
  if (opts.keyFile) {
    const key = readFileSync(opts.keyFile, 'utf8');
    if (existsSync(keyPath) && readFileSync(keyPath, 'utf8') !== key) {
      if (!opts.force) throw new BackupRefused(`${keyPath} holds a different master key: pass --force to replace it (the old one is kept beside it)`);
      renameSync(keyPath, `${keyPath}.before-restore-${Date.now()}`);
    }
  }
  const blob = new Blob([readFileSync(archive)]);
  const client = await PGlite.create({ dataDir: pgdata, loadDataDir: blob });
  await client.close();
  if (opts.keyFile) writeFileSync(keyPath, readFileSync(opts.keyFile, 'utf8'), { mode: 0o600 });
  // The signing key that made the restored checkpoints, when the backup carried one and none is here.
  const signingPath = join(dataDir, SIGNING_KEY_FILE);
  const auditKeyRestored = existsSync(auditKeyCopyOf(archive)) && !existsSync(signingPath);
  if (auditKeyRestored) writeFileSync(signingPath, readFileSync(auditKeyCopyOf(archive)), { mode: 0o600 });
  return { movedAside, hasKeyFile: existsSync(keyPath), auditKeyRestored };
}
