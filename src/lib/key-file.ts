import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * A key kept in the data folder: made once (mode 0600) with `create` and announced by path, never
 * by content; a file others can read is tightened and said so. Two processes starting at once
 * agree on the one written first. `parse` errors name the file, not its content.
 */
export function readOrCreateKeyFile<T>(
  dataDir: string,
  file: string,
  { create, parse, log, announce }: { create: () => string; parse: (text: string) => T; log: Logger; announce: string },
): T {
  const path = join(dataDir, file);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, create(), { mode: 0o600, flag: 'wx' });
      log.warn({ path }, announce);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } else if ((statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    log.warn({ path }, `${file} was readable by others; its mode is now 0600`);
  }
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
