import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Prefixed, time-sortable ids: a log line tells what an id refers to. */
export type IdPrefix = 'org' | 'ws' | 'usr' | 'key' | 'aud' | 'req' | 'inst' | 'cred' | 'sync' | 'evt' | 'msg' | 'ep' | 'dlv' | 'iev';

// ulid's default generator makes one crypto call per character (16 per new millisecond): ~5% of
// the CPU of receiving a webhook. The same crypto randomness, drawn 4 KB at a time, costs next to
// nothing. A byte / 256 is uniform over ulid's 32 symbols (256 = 8 × 32).
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
