import { hash, randomBytes } from 'node:crypto';
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

/** A CRC-32 as 6 base62 digits. It is below 2^32 < 62^6, so Number arithmetic is exact: no BigInt. */
function checksumDigits(crc: number): string {
  let out = '';
  for (let i = 0, n = crc; i < CHECK_DIGITS; i++, n = Math.floor(n / 62)) out = ALPHABET[n % 62] + out;
  return out;
}

export const checksumOf = (beforeChecksum: string): string => checksumDigits(crc32(Buffer.from(beforeChecksum, 'ascii')));

/**
 * 2^256 − 1 in 43 base62 digits. ALPHABET is in ASCII order, so for two strings of 43 digits a
 * string comparison is the numeric one: the verify path's range check needs no BigInt.
 */
const MAX_BODY = toBase62((1n << 256n) - 1n, BODY_DIGITS);

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
  if (head.slice(-BODY_DIGITS) > MAX_BODY) return false;
  // SHAPE admits ASCII only, so the CRC-32 of the string (as UTF-8) is that of its ASCII bytes.
  return checksumDigits(crc32(head)) === text.slice(-CHECK_DIGITS);
}

export const environmentOf = (key: string): KeyEnvironment => (key.startsWith(PREFIXES.test) ? 'test' : 'live');

/** What is stored: SHA-256 of the whole key. The key itself is never written anywhere. */
export const hashKey = (key: string): string => hash('sha256', key, 'hex');

/** What is shown after creation: enough to recognise a key, too little to use it. */
export const displayStart = (key: string): string => key.slice(0, 14);
