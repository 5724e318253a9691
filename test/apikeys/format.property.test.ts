import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatKey, fromBase62, generateKey, isWellFormedKey, toBase62, type KeyEnvironment } from '../../src/modules/apikeys/format.js';

// The contract's alphabet, written out here rather than imported: the test checks the module against it.
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREFIX: Record<KeyEnvironment, string> = { live: 'gate_live_', test: 'gate_test_' };

/** An independent base62 encoder (repeated division over a Number), left-padded with '0'. */
function base62(value: number, width: number): string {
  let out = '';
  for (let n = value; n > 0; n = Math.floor(n / 62)) out = DIGITS[n % 62] + out;
  return out.padStart(width, '0');
}

/** The checksum the contract describes: CRC-32 (zlib) of everything before it, as 6 base62 digits. */
const expectedChecksum = (head: string) => base62(crc32(Buffer.from(head, 'ascii')), 6);

const environment = fc.constantFrom<KeyEnvironment>('live', 'test');
// Arbitrary bodies, with the two extremes always in the mix.
const body = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
  fc.constant(Buffer.alloc(32, 0x00)),
  fc.constant(Buffer.alloc(32, 0xff)),
);
const key = fc.tuple(environment, body).map(([env, random]) => ({ env, random, key: formatKey(env, random) }));
const nonBase62Char = fc.constantFrom('_', '-', '+', '/', '=', ' ', '.', '!', 'é', '\0');
const anyCharButBase62OrNot = fc.oneof(fc.constantFrom(...DIGITS), nonBase62Char);

function checkShape(k: string, env: KeyEnvironment) {
  expect(k).toHaveLength(59);
  expect(k.startsWith(PREFIX[env])).toBe(true);
  expect(k.slice(10)).toMatch(/^[0-9A-Za-z]{49}$/);
  expect(isWellFormedKey(k)).toBe(true);
}

describe('key format', () => {
  test('every formatted key is 59 characters, prefixed, base62 and well formed', () => {
    fc.assert(
      fc.property(key, ({ env, key: k }) => {
        checkShape(k, env);
      }),
      { numRuns: 500 },
    );
  });

  test('the extremes: an all-zero and an all-0xFF body', () => {
    const zero = formatKey('live', Buffer.alloc(32, 0));
    expect(zero.slice(10, 53)).toBe('0'.repeat(43));
    checkShape(zero, 'live');
    const ones = formatKey('test', Buffer.alloc(32, 0xff));
    expect(fromBase62(ones.slice(10, 53))).toBe((1n << 256n) - 1n);
    checkShape(ones, 'test');
  });

  test('generateKey gives well-formed keys of the asked environment (live by default)', () => {
    for (let i = 0; i < 200; i++) {
      checkShape(generateKey(), 'live');
      checkShape(generateKey('test'), 'test');
    }
  });

  test('the body is the 32 bytes as a 43-digit base62 number', () => {
    fc.assert(
      fc.property(key, ({ random, key: k }) => {
        expect(fromBase62(k.slice(10, 53))).toBe(BigInt('0x' + random.toString('hex')));
      }),
    );
  });

  test('the checksum is the zlib CRC-32 of the first 53 characters as 6 zero-padded base62 digits', () => {
    fc.assert(
      fc.property(key, ({ key: k }) => {
        expect(k.slice(53)).toBe(expectedChecksum(k.slice(0, 53)));
      }),
      { numRuns: 500 },
    );
  });

  test('any single-character substitution is rejected', () => {
    fc.assert(
      fc.property(key, fc.nat({ max: 58 }), anyCharButBase62OrNot, ({ key: k }, at, ch) => {
        fc.pre(k[at] !== ch);
        const typo = k.slice(0, at) + ch + k.slice(at + 1);
        expect(isWellFormedKey(typo)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  test('every single substitution at every position of one key is rejected (exhaustive)', () => {
    const k = generateKey();
    let tried = 0;
    for (let at = 0; at < k.length; at++) {
      for (const ch of DIGITS + '_') {
        if (ch === k[at]) continue;
        tried++;
        expect(isWellFormedKey(k.slice(0, at) + ch + k.slice(at + 1)), `position ${at} -> ${ch}`).toBe(false);
      }
    }
    expect(tried).toBeGreaterThan(59 * 60);
  });

  test('any adjacent transposition that changes the key is rejected', () => {
    fc.assert(
      fc.property(key, fc.nat({ max: 57 }), ({ key: k }, at) => {
        fc.pre(k[at] !== k[at + 1]);
        const swapped = k.slice(0, at) + k[at + 1] + k[at] + k.slice(at + 2);
        expect(isWellFormedKey(swapped)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  test('wrong length, wrong prefix and non-base62 text are rejected', () => {
    const k = generateKey();
    expect(isWellFormedKey(k.slice(0, 58))).toBe(false);
    expect(isWellFormedKey(k + '0')).toBe(false);
    expect(isWellFormedKey('gate_prod_' + k.slice(10))).toBe(false);
    expect(isWellFormedKey('')).toBe(false);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        // Random text is almost never a key; when it is, it has to pass the independent checksum too.
        if (isWellFormedKey(s)) expect(s.slice(53)).toBe(expectedChecksum(s.slice(0, 53)));
      }),
    );
  });

  test('a body above 2^256 - 1 is rejected even with a matching checksum', () => {
    const head = 'gate_live_' + 'z'.repeat(43); // 62^43 - 1 > 2^256 - 1
    expect(isWellFormedKey(head + expectedChecksum(head))).toBe(false);
    const max = formatKey('live', Buffer.alloc(32, 0xff));
    expect(isWellFormedKey(max)).toBe(true);
  });
});

describe('base62', () => {
  test('toBase62 then fromBase62 gives the number back', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (n) => {
        const text = toBase62(n, 43);
        expect(text).toHaveLength(43);
        expect(text).toMatch(/^[0-9A-Za-z]+$/);
        expect(fromBase62(text)).toBe(n);
      }),
      { numRuns: 1000 },
    );
  });

  test('fromBase62 then toBase62 gives the text back', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...DIGITS), minLength: 1, maxLength: 60 }), (text) => {
        expect(toBase62(fromBase62(text), text.length)).toBe(text);
      }),
    );
  });

  test('toBase62 agrees with the independent encoder on 32-bit values', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (n) => {
        expect(toBase62(BigInt(n), 6)).toBe(base62(n, 6));
      }),
    );
    expect(toBase62(0n, 6)).toBe('000000');
    expect(toBase62(61n, 2)).toBe('0z');
    expect(toBase62(62n, 2)).toBe('10');
  });

  test('a value too wide for the digits, or a non-base62 digit, is a RangeError', () => {
    expect(() => toBase62(62n ** 6n, 6)).toThrow(RangeError);
    expect(() => fromBase62('ab_c')).toThrow(RangeError);
  });
});
