import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Presets, SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { importCredentials } from './modules/vault/import.js';
import { checkSecrets, rewrapDataKeys } from './modules/vault/rewrap.js';
import { sealedColumnsOf } from './sealed.js';
import { auditKeyCopyOf, backupEmbedded, BackupRefused, PG_DUMP_RECIPE, restoreEmbedded } from './db/backup.js';
import { loadConfig, ConfigError, type Config } from './config.js';
import { describeMigration, pendingMigrations } from './db/migrate.js';
import { connectDatabase } from './db/connect.js';
import { systemActor } from './http/actor.js';
import { createLogger } from './lib/logger.js';
import { openDatabase, startProcess } from './runtime.js';
import { createServices, type Services } from './services.js';

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Runs until SIGTERM/SIGINT, then drains in-flight requests and jobs and exits 0. */
async function runUntilSignal(api: boolean, worker: boolean) {
  const cfg = config();
  const log = createLogger(cfg.logLevel);
  const running = await startProcess(cfg, log, {
    api,
    worker,
    // Written straight to stdout, never through the logger: logs are shipped and kept, this is shown once.
    announceKey: (key) =>
      process.stdout.write(
        `\n  Gatehouse platform admin key (shown once, store it now):\n\n    ${key}\n\n` +
          `  Use it as: Authorization: Bearer <key>. Make more with: npx gatehouse admin create-key --name NAME\n\n`,
      ),
  });
  if (api) log.info({ port: cfg.port, database: running.services.database.kind, worker }, 'gatehouse serving');
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining requests and jobs');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting with work unfinished (leased jobs will be retried)');
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    await running.stop();
    clearTimeout(timer);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** One-shot commands: open the database (migrating it), run, and always close again. */
async function withServices<T>(run: (services: Services) => Promise<T>): Promise<T> {
  const cfg = config();
  const log = createLogger('warn');
  const database = await openDatabase(cfg, log);
  const services = await createServices(cfg, database, log);
  try {
    return await run(services);
  } finally {
    await services.close();
    await database.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const program = new Command()
  .name('gatehouse')
  .description('API keys, provider credentials, upstream calls, webhooks and audit for a multi-tenant SaaS')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the HTTP API with the job worker in the same process')
  .option('--no-worker', 'serve the API only (run `gatehouse worker` separately)')
  .action((opts) => runUntilSignal(true, opts.worker));

program.command('worker').description('run a job worker only').action(() => runUntilSignal(false, true));

program
  .command('migrate')
  .description('apply pending database migrations')
  .option('--dry-run', 'print what would be applied, change nothing')
  .action(async (opts) => {
    const cfg = config();
    const log = createLogger('warn');
    if (opts.dryRun) {
      const database = await connectDatabase(cfg.databaseUrl ? { kind: 'postgres', url: cfg.databaseUrl } : { kind: 'pglite', dataDir: cfg.dataDir }, log);
      const pending = await pendingMigrations(database);
      const summary = `${pending.length} migration${pending.length === 1 ? '' : 's'} pending; nothing was changed (\`gatehouse migrate\` applies them)`;
      console.log(pending.length ? [...pending.map(describeMigration), summary].join('\n') : 'nothing to apply');
      await database.close();
      return;
    }
    const database = await openDatabase(cfg, createLogger('info'));
    console.log('schema up to date');
    await database.close();
  });

const admin = program.command('admin').description('platform administration');
admin
  .command('create-key')
  .description('print a new platform admin key (the embedded database must not be open in a running server)')
  .requiredOption('--name <name>', 'what the key is for')
  .action(async (opts) => {
    const created = await withServices((s) => s.apiKeys.createPlatformAdminKey(systemActor(), opts.name));
    console.log(created.key);
  });

admin
  .command('create-user')
  .description('create a person who signs in to the portal (the first platform admin, typically); prints a generated password once unless --password-stdin')
  .requiredOption('--email <email>', 'their sign-in email')
  .requiredOption('--name <name>', 'their name')
  .option('--password-stdin', 'read the password from standard input instead of generating one')
  .option('--no-platform-admin', 'an ordinary user (add them to workspaces afterwards)')
  .action(async (opts) => {
    const given = opts.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
    if (given !== undefined && given.length < 12) throw new Error('the password must be at least 12 characters');
    const password = given ?? randomBytes(18).toString('base64url');
    const user = await withServices((s) => s.tenancy.createUser(systemActor(), { email: opts.email, name: opts.name, password, platform_admin: opts.platformAdmin }));
    console.log(`created ${user.email} (${user.id}${user.platform_admin ? ', platform admin' : ''})`);
    if (given === undefined) console.log(`password (shown once): ${password}`);
  });

const vault = program.command('vault').description('the secrets vault');
vault
  .command('rewrap')
  .description('re-wrap every data key with the active master key (safe to run while serving, and to re-run)')
  .action(async () => {
    const report = await withServices(async (s) => {
      // noTTYOutput: without it cli-progress prints nothing at all when stderr is not a terminal
      // (cron, CI, a container's log), so an operator would see no progress; there it prints a line every few seconds.
      const bar = new SingleBar({ format: 'rewrap [{bar}] {value}/{total} secrets', stream: process.stderr, noTTYOutput: true }, Presets.shades_classic);
      bar.start(0, 0);
      const r = await rewrapDataKeys(sealedColumnsOf(s.database.db), s.ring, (done, total) => {
        bar.setTotal(total);
        bar.update(done);
      });
      bar.stop();
      return r;
    });
    console.log(`active master key ${report.active}: ${report.rewrapped} re-wrapped, ${report.failures.length} failed, ${report.remaining} still on older keys`);
    for (const f of report.failures) console.log(`  failed ${f.table} ${Object.values(f.id).join(' ')}: ${f.reason}`);
    if (report.remaining === 0) console.log('every secret is on the active key; older master keys can be removed from GATEHOUSE_MASTER_KEYS');
    if (report.failures.length) process.exitCode = 1;
  });

program
  .command('import')
  .description('bulk imports')
  .command('credentials <file>')
  .description('import workspace credentials from CSV: columns workspace_id, provider, name, then the provider fields')
  .option('--dry-run', 'validate every row, write nothing')
  .action(async (file: string, opts) => {
    let csv: string;
    try {
      csv = readFileSync(file, 'utf8');
    } catch (err) {
      console.error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      process.exit(1);
    }
    const report = await withServices(async (s) => {
      const bar = new SingleBar({ format: 'import [{bar}] {value}/{total}', stream: process.stderr, noTTYOutput: true }, Presets.shades_classic);
      bar.start(1, 0);
      try {
        return await importCredentials({ vault: s.vault, tenancy: s.tenancy }, systemActor(), csv, {
          dryRun: opts.dryRun,
          onProgress: (done, total) => {
            bar.setTotal(total);
            bar.update(done);
          },
        });
      } finally {
        bar.stop();
      }
    }).catch((err) => {
      console.error(`import refused: ${err.message}`);
      process.exit(1);
    });
    for (const r of report.rows) console.log(`row ${r.row}\t${r.workspace_id}\t${r.provider}\t${r.status}${r.errors ? `\t${r.errors.join('; ')}` : ''}`);
    console.log(report.ok ? (report.dry_run ? `all ${report.rows.length} rows valid (dry run: nothing written)` : `imported ${report.imported} credentials`) : 'nothing imported: fix the invalid rows and run again');
    if (!report.ok) process.exitCode = 1;
  });

program
  .command('backup')
  .description('copy the embedded database (and its master key file) while the service is stopped')
  .option('--out <file>', 'archive to write', `gatehouse-backup-${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}.tar.gz`)
  .option('--key-out <file>', 'where the copy of the master key file goes (default: <out>.master.key)')
  .option('--force', 'copy even though the database looks open (only when no process is running on it)')
  .action(async (opts) => {
    const cfg = config();
    if (cfg.databaseUrl) {
      console.error(PG_DUMP_RECIPE);
      process.exit(2);
    }
    const keyOut = opts.keyOut ?? `${opts.out}.master.key`;
    const { keyCopied, auditKeyCopied } = await backupEmbedded(cfg.dataDir, opts.out, keyOut, { force: opts.force }).catch(refused);
    console.log(`database: ${opts.out}`);
    if (auditKeyCopied) console.log(`audit signing key: ${auditKeyCopyOf(opts.out)} (restore finds it beside the archive)`);
    if (keyCopied) {
      console.log(`master key: ${keyOut}`);
      console.error(`Store ${keyOut} apart from ${opts.out} (another place, another access list): together they open every secret; the archive alone opens none.`);
    } else {
      console.error('The master key is in GATEHOUSE_MASTER_KEYS, not in the data directory: keep it in your secret store, apart from this archive.');
    }
  });

program
  .command('restore [file]')
  .description('restore a backup into GATEHOUSE_DATA_DIR, then check the audit chain and that every secret opens')
  .option('--key <file>', 'the master key file saved by `gatehouse backup`')
  .option('--force', 'move an existing database (and a different key file) aside instead of refusing')
  .option('--check', 'restore nothing: check the configured database (e.g. after pg_restore)')
  .action(async (file: string | undefined, opts) => {
    const cfg = config();
    if (!opts.check) {
      if (!file) fail('name the backup archive, or pass --check');
      if (cfg.databaseUrl) fail(`restore unpacks an embedded database; for PostgreSQL:\n${PG_DUMP_RECIPE}`);
      const { movedAside, hasKeyFile, auditKeyRestored } = await restoreEmbedded(file, cfg.dataDir, { keyFile: opts.key, force: opts.force }).catch(refused);
      if (movedAside) console.log(`the database that was there is now ${movedAside}`);
      if (auditKeyRestored) console.log('audit signing key restored beside the database');
      // Without a key the first open would make a new one, and no restored secret would ever open.
      if (!hasKeyFile && !cfg.masterKeys) fail('restored the database, but there is no master key: pass --key FILE, or set GATEHOUSE_MASTER_KEYS');
      console.log(`restored ${file} into ${cfg.dataDir}`);
    }
    const { chain, secrets } = await withServices(async (s) => ({ chain: await s.audit.verify(), secrets: await checkSecrets(sealedColumnsOf(s.database.db), s.ring) }));
    console.log(chain.ok ? `audit chain: ok ${chain.entries} entries` : `audit chain: BROKEN at entry ${chain.first_bad?.seq}${chain.first_bad?.id ? ` (${chain.first_bad.id})` : ''}: ${chain.first_bad?.reason}: ${chain.first_bad?.detail}`);
    console.log(`secrets: ${secrets.opened} of ${secrets.total} open with the master key`);
    for (const f of secrets.failures.slice(0, 20)) console.log(`  does not open: ${f.table} ${Object.values(f.id).join(' ')}: ${f.reason}`);
    if (!chain.ok || secrets.failures.length) process.exitCode = 1;
  });

/** A refusal (wrong folder, open database, existing data) is the operator's to fix: exit 2 with the reason. */
function refused(err: unknown): never {
  if (err instanceof BackupRefused) fail(err.message);
  throw err;
}

function fail(message: string): never {
  console.error(`gatehouse: ${message}`);
  process.exit(2);
}

const audit = program.command('audit').description('the audit trail');
audit
  .command('verify')
  .description('walk the hash chain and check it against its signed checkpoints; exit 0 when intact, 1 naming the first problem')
  .option('--checkpoints <file>', 'also check against the checkpoints of this file sink (default: GATEHOUSE_AUDIT_CHECKPOINT_FILE)')
  .action(async (opts: { checkpoints?: string }) => {
    if (opts.checkpoints && !existsSync(opts.checkpoints)) fail(`${opts.checkpoints} does not exist`);
    const result = await withServices((s) =>
      s.audit.verify({ checkpointFile: opts.checkpoints, onProgress: (n) => process.stderr.write(`\rchecked ${n} entries`) }),
    ).catch((err: Error) => fail(err.message));
    process.stderr.write('\n');
    const { verified, last_seq: last } = result.checkpoints;
    // A result names its first bad entry exactly when it is not ok.
    const bad = result.first_bad;
    if (!bad) {
      console.log(`ok ${result.entries} entries`);
      console.log(last === null ? 'no signed checkpoints yet' : `${verified} signed checkpoints hold; the newest is at seq ${last}`);
    } else {
      console.log(`bad entry seq=${bad.seq}${bad.id ? ` id=${bad.id}` : ''}: ${bad.reason}: ${bad.detail} (${result.entries} entries before it are intact)`);
      process.exitCode = 1;
    }
  });
audit
  .command('checkpoint')
  .description("sign the chain's newest entry now, store the checkpoint and push it to the configured sinks")
  .action(async () => {
    const cp = await withServices((s) => s.audit.checkpoints.create());
    if (!cp) fail('the audit log is empty: there is nothing to checkpoint yet');
    console.log(`checkpoint seq=${cp.seq} hash=${cp.hash} at=${cp.at} key=${cp.key_id}`);
  });

await program.parseAsync(process.argv);
