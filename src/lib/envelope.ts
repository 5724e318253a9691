import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Envelope encryption with AES-256-GCM from node:crypto. Each secret gets its own data key; the
 * data key is wrapped by a versioned master key. Both layers authenticate the secret's binding
 * (workspace, provider, field) as additional data, so a ciphertext copied to another row fails.
 */
export interface Sealed {
  /** Version of the master key that wrapped the data key, e.g. "v2". */
  master_version: string;
  /** iv (12) + tag (16) + wrapped data key (32), base64. */
  wrapped_key: string;
  /** iv (12) + tag (16) + ciphertext, base64. */
  ciphertext: string;
}

export interface MasterKeyRing {
  active: string;
  keys: Map<string, Buffer>;
}

const IV = 12;
const TAG = 16;

export class DecryptError extends Error {}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV + TAG) throw new DecryptError('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV, IV + TAG));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV + TAG)), decipher.final()]);
  } catch {
    throw new DecryptError('ciphertext does not authenticate (tampered, or bound to another row)');
  }
}

function masterKey(ring: MasterKeyRing, version: string): Buffer {
  const key = ring.keys.get(version);
  if (!key) throw new DecryptError(`master key ${version} is not configured (GATEHOUSE_MASTER_KEYS)`);
  return key;
}

export function encryptSecret(ring: MasterKeyRing, plaintext: string, binding: string): Sealed {
  const dataKey = randomBytes(32);
  try {
    return {
      master_version: ring.active,
      wrapped_key: seal(masterKey(ring, ring.active), dataKey, `${ring.active}|${binding}`).toString('base64'),
      ciphertext: seal(dataKey, Buffer.from(plaintext, 'utf8'), binding).toString('base64'),
    };
  } finally {
    dataKey.fill(0);
  }
}

function unwrap(ring: MasterKeyRing, sealed: Sealed, binding: string): Buffer {
  const mk = masterKey(ring, sealed.master_version);
  return open(mk, Buffer.from(sealed.wrapped_key, 'base64'), `${sealed.master_version}|${binding}`);
}

export function decryptSecret(ring: MasterKeyRing, sealed: Sealed, binding: string): string {
  const dataKey = unwrap(ring, sealed, binding);
  try {
    return open(dataKey, Buffer.from(sealed.ciphertext, 'base64'), binding).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps only the data key under the active master key; the ciphertext itself is untouched. */
export function rewrapSecret(ring: MasterKeyRing, sealed: Sealed, binding: string): Sealed {
  const dataKey = unwrap(ring, sealed, binding);
  try {
    return {
      master_version: ring.active,
      wrapped_key: seal(masterKey(ring, ring.active), dataKey, `${ring.active}|${binding}`).toString('base64'),
      ciphertext: sealed.ciphertext,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** `v2:<base64 32 bytes>,v1:<…>`, first is active. Throws naming what is wrong, never echoing a key. */
export function parseMasterKeys(text: string): MasterKeyRing {
  const keys = new Map<string, Buffer>();
  let active = '';
  for (const [i, part] of text.split(',').map((p) => p.trim()).filter(Boolean).entries()) {
    const m = /^(v\d+):([A-Za-z0-9+/=]+)$/.exec(part);
    if (!m) throw new Error(`entry ${i + 1} is not "v<N>:<base64>"`);
    const key = Buffer.from(m[2], 'base64');
    if (key.length !== 32) throw new Error(`${m[1]} is ${key.length} bytes; a master key is 32 bytes of base64`);
    if (keys.has(m[1])) throw new Error(`${m[1]} appears twice`);
    keys.set(m[1], key);
    if (i === 0) active = m[1];
  }
  if (!active) throw new Error('no master key given');
  return { active, keys };
}

/**
 * What a secret looks like on display. The characters shown must leave most of it unknown: first 4
 * and last 4 of a secret of 24 or more, the last 4 of one of 12 to 23, nothing of a shorter one.
 */
export function maskSecret(value: string): string {
  if (value.length >= 24) return `${value.slice(0, 4)}***${value.slice(-4)}`;
  return value.length >= 12 ? `***${value.slice(-4)}` : '****';
}
