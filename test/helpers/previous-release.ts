import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listMigrations } from '../../src/db/migrate.js';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface PreviousRelease {
  /** The commit built: the parent of the one that added the newest migration. */
  commit: string;
  /** Its compiled code (`dist/`), with the migrations it ships. */
  dist: string;
  /** The migrations it knows: the previous set, N. */
  migrations: string[];
  remove(): void;
}

const git = (args: string[], opts: { input?: Buffer } = {}) => execFileSync('git', args, { cwd: ROOT, maxBuffer: 256 << 20, ...opts });

/**
 * The code as it was just before the newest migration was added, compiled into a temp folder: the
 * real version N that must keep serving while N+1's migration is applied. It needs the git history
 * (a shallow clone lacks it: the test then fails, saying so, rather than testing something else).
 */
export function buildPreviousRelease(): PreviousRelease {
  const newest = listMigrations().at(-1)!;
  const file = `src/db/migrations/${newest.name}.sql`;
  const added = git(['log', '--diff-filter=A', '--format=%H', '-1', '--', file]).toString().trim();
  if (!added) throw new Error(`no commit in the git history adds ${file}: a full clone is needed to build the previous release`);
  const commit = git(['rev-parse', `${added}^`]).toString().trim();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prev-'));
  const tar = git(['archive', '--format=tar', commit, 'src', 'tsconfig.json', 'tsconfig.build.json']);
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  // Its package.json says `"type": "module"`, which decides how tsc emits and Node loads it; the rest of it is not needed.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  // It type-checked when it was committed; today's type packages may have moved on, so emit only.
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--noCheck'], { cwd: dir });
  cpSync(join(dir, 'src/db/migrations'), join(dir, 'dist/db/migrations'), { recursive: true });
  return {
    commit,
    dist: join(dir, 'dist'),
    migrations: listMigrations(join(dir, 'dist/db/migrations/')).map((m) => m.name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
