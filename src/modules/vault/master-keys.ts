import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { parseMasterKeys, type MasterKeyRing } from '../../lib/envelope.js';
import { readOrCreateKeyFile } from '../../lib/key-file.js';

export const MASTER_KEY_FILE = 'master.key';

/**
 * The master keys: from GATEHOUSE_MASTER_KEYS when set; otherwise from `<data dir>/master.key`,
 * created on first start (mode 0600) and announced, because losing it loses every secret.
 */
export function loadMasterKeys({ masterKeys, dataDir, log }: { masterKeys?: string; dataDir: string; log: Logger }): MasterKeyRing {
  if (masterKeys) return parseMasterKeys(masterKeys);
  return readOrCreateKeyFile(dataDir, MASTER_KEY_FILE, {
    create: () => `v1:${randomBytes(32).toString('base64')}\n`,
    parse: (text) => parseMasterKeys(text.trim()),
    log,
    announce: 'created a master key for the vault; back it up apart from the database: without it no secret can be read',
  });
}
