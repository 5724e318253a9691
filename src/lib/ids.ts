import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Prefixed, time-sortable ids: a log line tells what an id refers to. */
export type IdPrefix = 'org' | 'ws' | 'usr' | 'key' | 'aud' | 'req' | 'inst' | 'cred' | 'sync' | 'evt' | 'msg' | 'ep' | 'dlv' | 'iev' | 'mail' | 'inv';

// The same crypto randomness as ulid's default, drawn 4 KB at a time instead of one call per
// character (docs/decisions.md); a byte / 256 is uniform over ulid's 32 symbols (256 = 8 × 32).
let pool = randomBytes(4096);
let at = 0;
const pooledRandom = () => {
  if (at === pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  return pool[at++] / 256;
};
const next = monotonicFactory(pooledRandom);

export const newId = (prefix: IdPrefix): string => `${prefix}_${next().toLowerCase()}`;

/** Cheap shape check so that an odd path id answers 404 without reaching SQL. */
export const looksLikeId = (prefix: IdPrefix, value: string): boolean =>
  new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
