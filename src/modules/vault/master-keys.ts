import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseMasterKeys, type MasterKeyRing } from '../../lib/envelope.js';

export const MASTER_KEY_FILE = 'master.key';

/**
 * The master keys: from GATEHOUSE_MASTER_KEYS when set; otherwise from `<data dir>/master.key`,
 * created on first start (mode 0600) and announced, because losing it loses every secret.
 */
export function loadMasterKeys({ masterKeys, dataDir, log }: { masterKeys?: string; dataDir: string; log: Logger }): MasterKeyRing {
  if (masterKeys) return parseMasterKeys(masterKeys);
  const path = join(dataDir, MASTER_KEY_FILE);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, `v1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      log.warn({ path }, 'created a master key for the vault; back it up apart from the database: without it no secret can be read');
    } catch (err) {
      // Another process created it a moment ago: use that one.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } else if ((statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    log.warn({ path }, 'master key file was readable by others; its mode is now 0600');
  }
  try {
    return parseMasterKeys(readFileSync(path, 'utf8').trim());
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
