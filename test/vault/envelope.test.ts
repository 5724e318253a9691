import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  DecryptError,
  decryptSecret,
  encryptSecret,
  maskSecret,
  parseMasterKeys,
  rewrapSecret,
  type MasterKeyRing,
  type Sealed,
} from '../../src/lib/envelope.js';
import { adminBinding, workspaceBinding } from '../../src/modules/vault/service.js';

// Unit tests of the envelope itself: no database, no app.
const b64 = () => randomBytes(32).toString('base64');
const ringOf = (text: string) => parseMasterKeys(text);
const K1 = b64();
const K2 = b64();
const ring1 = ringOf(`v1:${K1}`);
const ring21 = ringOf(`v2:${K2},v1:${K1}`);
const ring2 = ringOf(`v2:${K2}`);

const BINDING = workspaceBinding('ws_a', 'twilio', 'auth_token');
const SECRET = 'tw-auth-0123456789abcdef-secret';

/** The same sealed value with bit `bit` of byte `byte` of one base64 part flipped. */
function flipped(sealed: Sealed, part: 'wrapped_key' | 'ciphertext', byte: number, bit: number): Sealed {
  const buf = Buffer.from(sealed[part], 'base64');
  buf[byte] ^= 1 << bit;
  return { ...sealed, [part]: buf.toString('base64') };
}

/** Runs fn and returns what it threw (failing the test when it throws nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, none was thrown');
}

describe('encrypt / decrypt', () => {
  test('roundtrip: ASCII, unicode, empty and long values come back exactly', () => {
    for (const value of [SECRET, 'pässwörd ✓ 秘密 🔑', '', 'x'.repeat(10_000), '12|abcdefghijklmnop']) {
      const sealed = encryptSecret(ring1, value, BINDING);
      expect(sealed.master_version).toBe('v1');
      expect(decryptSecret(ring1, sealed, BINDING)).toBe(value);
    }
  });

  test('the sealed form holds no plaintext: not raw, not base64', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const all = JSON.stringify(sealed);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 20));
    expect(Buffer.from(sealed.ciphertext, 'base64').includes(Buffer.from(SECRET))).toBe(false);
    // iv (12) + tag (16) + the wrapped 32-byte data key; iv + tag + as many bytes as the secret.
    expect(Buffer.from(sealed.wrapped_key, 'base64').length).toBe(12 + 16 + 32);
    expect(Buffer.from(sealed.ciphertext, 'base64').length).toBe(12 + 16 + Buffer.byteLength(SECRET));
  });

  test('each secret gets a fresh data key: two encryptions of one value differ in wrapped_key and ciphertext', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const s = encryptSecret(ring1, SECRET, BINDING);
      // The data key itself: iv-independent comparison needs the key, so compare the wrapped bytes
      // after the iv and tag, and the ciphertext bytes after its iv and tag.
      seen.add(`wk:${Buffer.from(s.wrapped_key, 'base64').subarray(28).toString('hex')}`);
      seen.add(`ct:${Buffer.from(s.ciphertext, 'base64').subarray(28).toString('hex')}`);
      seen.add(`iv:${Buffer.from(s.wrapped_key, 'base64').subarray(0, 12).toString('hex')}`);
      seen.add(`iv:${Buffer.from(s.ciphertext, 'base64').subarray(0, 12).toString('hex')}`);
    }
    expect(seen.size).toBe(200);
    const a = encryptSecret(ring1, SECRET, BINDING);
    const b = encryptSecret(ring1, SECRET, BINDING);
    expect(a.wrapped_key).not.toBe(b.wrapped_key);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    // Each one opens only with its own data key: swapping the ciphertexts breaks both.
    expect(() => decryptSecret(ring1, { ...a, ciphertext: b.ciphertext }, BINDING)).toThrow(DecryptError);
    expect(() => decryptSecret(ring1, { ...b, ciphertext: a.ciphertext }, BINDING)).toThrow(DecryptError);
  });

  test('a flipped bit anywhere in the ciphertext is a DecryptError', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const len = Buffer.from(sealed.ciphertext, 'base64').length;
    let checked = 0;
    for (let byte = 0; byte < len; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        expect(() => decryptSecret(ring1, flipped(sealed, 'ciphertext', byte, bit), BINDING)).toThrow(DecryptError);
        checked++;
      }
    }
    expect(checked).toBe(len * 8);
    // The original still opens: the failures came from the flips.
    expect(decryptSecret(ring1, sealed, BINDING)).toBe(SECRET);
  });

  test('a flipped bit anywhere in the wrapped key is a DecryptError', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const len = Buffer.from(sealed.wrapped_key, 'base64').length;
    for (let byte = 0; byte < len; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        expect(() => decryptSecret(ring1, flipped(sealed, 'wrapped_key', byte, bit), BINDING)).toThrow(DecryptError);
      }
    }
    expect(decryptSecret(ring1, sealed, BINDING)).toBe(SECRET);
  });

  test('truncated, emptied or extended sealed parts are DecryptErrors, not crashes', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    const wk = Buffer.from(sealed.wrapped_key, 'base64');
    const variants: Sealed[] = [
      { ...sealed, ciphertext: '' },
      { ...sealed, wrapped_key: '' },
      { ...sealed, ciphertext: ct.subarray(0, 20).toString('base64') },
      { ...sealed, ciphertext: ct.subarray(0, ct.length - 1).toString('base64') },
      { ...sealed, ciphertext: Buffer.concat([ct, Buffer.from([0])]).toString('base64') },
      { ...sealed, wrapped_key: wk.subarray(0, wk.length - 1).toString('base64') },
      { ...sealed, wrapped_key: Buffer.concat([wk, Buffer.from([0])]).toString('base64') },
    ];
    for (const v of variants) expect(() => decryptSecret(ring1, v, BINDING)).toThrow(DecryptError);
  });

  test('another binding does not decrypt: other workspace, other provider, other field, instance-admin', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const others = [
      workspaceBinding('ws_b', 'twilio', 'auth_token'),
      workspaceBinding('ws_a', 'vonage', 'auth_token'),
      workspaceBinding('ws_a', 'twilio', 'account_sid'),
      adminBinding('ws_a', 'twilio'),
      `${BINDING} `,
      '',
    ];
    for (const other of others) {
      const err = thrown(() => decryptSecret(ring1, sealed, other));
      expect(err).toBeInstanceOf(DecryptError);
      expect(err.message).not.toContain(SECRET);
    }
    expect(decryptSecret(ring1, sealed, BINDING)).toBe(SECRET);
  });

  test('the master version is authenticated too: relabelling a row to another configured version fails', () => {
    const sealed = encryptSecret(ring21, SECRET, BINDING);
    expect(sealed.master_version).toBe('v2');
    expect(() => decryptSecret(ring21, { ...sealed, master_version: 'v1' }, BINDING)).toThrow(DecryptError);
  });

  test('a missing master version is a clear DecryptError naming the version and the setting', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    const err = thrown(() => decryptSecret(ring2, sealed, BINDING));
    expect(err).toBeInstanceOf(DecryptError);
    expect(err.message).toContain('v1');
    expect(err.message).toContain('GATEHOUSE_MASTER_KEYS');
    expect(err.message).toMatch(/not configured/);
    expect(err.message).not.toContain(K2);
    // Rewrapping needs the old key just the same.
    expect(() => rewrapSecret(ring2, sealed, BINDING)).toThrow(/v1 is not configured/);
  });

  test('the same data under another master key of the same version name does not open', () => {
    const sealed = encryptSecret(ring1, SECRET, BINDING);
    expect(() => decryptSecret(ringOf(`v1:${b64()}`), sealed, BINDING)).toThrow(DecryptError);
  });

  test('a new secret is wrapped by the first (active) key of the ring', () => {
    expect(encryptSecret(ring21, SECRET, BINDING).master_version).toBe('v2');
    expect(encryptSecret(ringOf(`v1:${K1},v2:${K2}`), SECRET, BINDING).master_version).toBe('v1');
  });
});

describe('rewrapSecret', () => {
  test('keeps the ciphertext, changes the master version and wrapped key; decrypts with only the new key', () => {
    const old = encryptSecret(ring1, SECRET, BINDING);
    const next = rewrapSecret(ring21, old, BINDING);
    expect(next.master_version).toBe('v2');
    expect(next.ciphertext).toBe(old.ciphertext);
    expect(next.wrapped_key).not.toBe(old.wrapped_key);
    expect(decryptSecret(ring2, next, BINDING)).toBe(SECRET);
    expect(decryptSecret(ring21, next, BINDING)).toBe(SECRET);
    // The old key alone no longer opens it, and the old sealed value does not open with the new key alone.
    expect(() => decryptSecret(ring1, next, BINDING)).toThrow(/v2 is not configured/);
    expect(() => decryptSecret(ring2, old, BINDING)).toThrow(DecryptError);
  });

  test('rewrapping under the same ring is harmless, and the binding still holds afterwards', () => {
    const old = encryptSecret(ring21, SECRET, BINDING);
    const again = rewrapSecret(ring21, old, BINDING);
    expect(again.master_version).toBe('v2');
    expect(decryptSecret(ring2, again, BINDING)).toBe(SECRET);
    expect(() => decryptSecret(ring2, again, workspaceBinding('ws_b', 'twilio', 'auth_token'))).toThrow(DecryptError);
  });

  test('a rewrap under the wrong binding or of a tampered wrapped key fails and produces nothing', () => {
    const old = encryptSecret(ring1, SECRET, BINDING);
    expect(() => rewrapSecret(ring21, old, workspaceBinding('ws_b', 'twilio', 'auth_token'))).toThrow(DecryptError);
    expect(() => rewrapSecret(ring21, flipped(old, 'wrapped_key', 40, 3), BINDING)).toThrow(DecryptError);
  });
});

describe('parseMasterKeys', () => {
  test('parses versions in order, the first being active', () => {
    const ring: MasterKeyRing = ringOf(` v3:${K2} , v1:${K1} `);
    expect(ring.active).toBe('v3');
    expect([...ring.keys.keys()]).toEqual(['v3', 'v1']);
    expect(ring.keys.get('v1')!.equals(Buffer.from(K1, 'base64'))).toBe(true);
    expect(ring.keys.get('v3')!.length).toBe(32);
  });

  // Each bad input, with the words its error must use and the key material it must not repeat.
  const shortKey = randomBytes(16).toString('base64');
  const longKey = randomBytes(48).toString('base64');
  const cases: Array<{ name: string; text: string; says: RegExp; secret?: string }> = [
    { name: 'empty', text: '', says: /no master key/ },
    { name: 'only separators', text: ' , ,', says: /no master key/ },
    { name: 'no version', text: K1, says: /entry 1 is not "v<N>:<base64>"/, secret: K1 },
    { name: 'bad version name', text: `key1:${K1}`, says: /entry 1 is not/, secret: K1 },
    { name: 'base64url alphabet', text: `v1:${K1.replace(/\+/g, '-').replace(/\//g, '_')}x-_`, says: /entry 1 is not/, secret: K1.slice(0, 20) },
    { name: 'second entry malformed', text: `v2:${K2},v1=${K1}`, says: /entry 2 is not/, secret: K1 },
    { name: '16-byte key', text: `v1:${shortKey}`, says: /v1 is 16 bytes; a master key is 32 bytes/, secret: shortKey },
    { name: '48-byte key', text: `v2:${K2},v1:${longKey}`, says: /v1 is 48 bytes/, secret: longKey },
    { name: 'duplicate version', text: `v1:${K1},v1:${K2}`, says: /v1 appears twice/, secret: K2 },
  ];
  for (const c of cases) {
    test(`${c.name}: the error names the problem and never echoes key material`, () => {
      const err = thrown(() => parseMasterKeys(c.text));
      expect(err.message).toMatch(c.says);
      for (const k of [K1, K2, shortKey, longKey]) {
        expect(err.message).not.toContain(k);
        expect(err.message).not.toContain(k.slice(0, 12));
      }
      if (c.secret) expect(err.message).not.toContain(c.secret.slice(0, 8));
    });
  }

  test('a bad GATEHOUSE_MASTER_KEYS fails the config with the reason and without the key', () => {
    const err = thrown(() => loadConfig({ GATEHOUSE_MASTER_KEYS: `v1:${shortKey}` }));
    expect(err.message).toContain('GATEHOUSE_MASTER_KEYS');
    expect(err.message).toContain('16 bytes');
    expect(err.message).not.toContain(shortKey);
    const dup = thrown(() => loadConfig({ GATEHOUSE_MASTER_KEYS: `v1:${K1},v1:${K2}` }));
    expect(dup.message).toContain('appears twice');
    expect(dup.message).not.toContain(K1);
    expect(dup.message).not.toContain(K2);
  });
});

describe('maskSecret', () => {
  test('first 4 and last 4 of a secret of 24 characters or more, nothing in between', () => {
    expect(maskSecret('ABCDefghijklmnopqrstWXYZ')).toBe('ABCD***WXYZ');
    const m = maskSecret(SECRET);
    expect(m.startsWith(SECRET.slice(0, 4))).toBe(true);
    expect(m.endsWith(SECRET.slice(-4))).toBe(true);
    expect(m).not.toContain(SECRET.slice(4, -4));
  });

  test('only the last 4 of a secret of 12 to 23 characters', () => {
    // Before, a 12-character secret showed 8 of its characters.
    expect(maskSecret('abcdefghijkl')).toBe('***ijkl');
    expect(maskSecret('12|abcdefghijklmnop')).toBe('***mnop');
    expect(maskSecret('abcdefghijklmnopqrstuvw')).toBe('***tuvw');
  });

  test('nothing of a shorter secret', () => {
    for (const v of ['', 'a', 'abcd', 'abcdefgh', 'abcdefghijk']) expect(maskSecret(v)).toBe('****');
  });
});
