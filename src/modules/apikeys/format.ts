import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Key format (CONTRACT "Keys and signatures"): prefix, 32 random bytes as 43 base62 digits, then
 * the CRC-32 of everything before it as 6 base62 digits. 59 characters; a typo fails offline.
 */
export const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_LENGTH = 59;
export const PREFIXES = { live: 'gate_live_', test: 'gate_test_' } as const;
export type KeyEnvironment = keyof typeof PREFIXES;

const BODY_DIGITS = 43;
const CHECK_DIGITS = 6;
const SHAPE = /^gate_(live|test)_[0-9A-Za-z]{49}$/;

export function toBase62(value: bigint, width: number): string {
  let out = '';
  let n = value;
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  if (out.length > width) throw new RangeError(`value needs more than ${width} base62 digits`);
  return out.padStart(width, '0');
}

export function fromBase62(text: string): bigint {
  let n = 0n;
  for (const ch of text) {
    const d = ALPHABET.indexOf(ch);
    if (d < 0) throw new RangeError(`not a base62 digit: ${ch}`);
    n = n * 62n + BigInt(d);
  }
  return n;
}

export const checksumOf = (beforeChecksum: string): string =>
  toBase62(BigInt(crc32(Buffer.from(beforeChecksum, 'ascii'))), CHECK_DIGITS);

export function formatKey(environment: KeyEnvironment, random: Buffer): string {
  if (random.length !== 32) throw new RangeError('a key body is exactly 32 bytes');
  const head = PREFIXES[environment] + toBase62(BigInt('0x' + random.toString('hex')), BODY_DIGITS);
  return head + checksumOf(head);
}

export const generateKey = (environment: KeyEnvironment = 'live') => formatKey(environment, randomBytes(32));

/** True when the text has the key shape and its checksum matches: no I/O, safe to run on anything. */
export function isWellFormedKey(text: string): boolean {
  if (text.length !== KEY_LENGTH || !SHAPE.test(text)) return false;
  const head = text.slice(0, KEY_LENGTH - CHECK_DIGITS);
  if (fromBase62(head.slice(-BODY_DIGITS)) >= 1n << 256n) return false;
  return checksumOf(head) === text.slice(-CHECK_DIGITS);
}

export const environmentOf = (key: string): KeyEnvironment => (key.startsWith(PREFIXES.test) ? 'test' : 'live');

/** What is stored: SHA-256 of the whole key. The key itself is never written anywhere. */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** What is shown after creation: enough to recognise a key, too little to use it. */
export const displayStart = (key: string): string => key.slice(0, 14);
