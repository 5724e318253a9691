import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// OWASP's password storage figure for scrypt: N=2^17, r=8, p=1 (128 MiB per hash). Node refuses
// anything above maxmem (32 MiB by default), so it is raised with room to spare.
export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
const MAXMEM = 256 * 1024 * 1024;
const KEYLEN = 32;
// Stored hashes may carry older (lower) parameters; anything beyond these is not ours to run.
const MAX_N = 2 ** 20;

// At most this many derivations at once: each holds 128 MiB and a libuv thread for a good fraction
// of a second, and the pool's other threads serve DNS lookups and file reads.
const MAX_PARALLEL = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  if (running < MAX_PARALLEL) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      scrypt(password.normalize('NFKC'), salt, KEYLEN, { ...opts, maxmem: MAXMEM }, (err, key) => (err ? reject(err) : resolve(key))),
    );
  } finally {
    // The slot passes straight to the next in line, so a newcomer cannot slip in between.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): Parsed | null {
  const [algo, n, r, p, salt, hash, extra] = stored.split('$');
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (algo !== 'scrypt' || !salt || !hash || extra !== undefined) return null;
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || !Number.isInteger(R) || R < 1 || R > 32 || !Number.isInteger(P) || P < 1 || P > 16) return null;
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash, so they can be raised without breaking old ones. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT_PARAMS);
  return ['scrypt', SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}

// Derived against when a stored hash cannot be read, so even that answer costs one derivation.
const FALLBACK = { ...SCRYPT_PARAMS, salt: randomBytes(16), hash: randomBytes(KEYLEN) };

/** A well-formed hash no password matches: checked against for an unknown or locked account, at today's cost. */
export const DUMMY_HASH = ['scrypt', SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p, randomBytes(16).toString('base64'), randomBytes(KEYLEN).toString('base64')].join('$');

/** True when `password` matches; always exactly one derivation, whatever `stored` holds. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  const { N, r, p, salt, hash } = parsed ?? FALLBACK;
  const key = await derive(password, salt, { N, r, p });
  return parsed !== null && key.length === hash.length && timingSafeEqual(key, hash);
}

/** A hash made with weaker parameters than today's: rehash it while the password is at hand. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return parsed !== null && (parsed.N < SCRYPT_PARAMS.N || parsed.r < SCRYPT_PARAMS.r || parsed.p < SCRYPT_PARAMS.p);
}
