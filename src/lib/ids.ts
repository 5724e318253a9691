import { monotonicFactory } from 'ulid';

/** Prefixed, time-sortable ids: a log line tells what an id refers to. */
export type IdPrefix = 'org' | 'ws' | 'usr' | 'key' | 'aud' | 'req' | 'inst' | 'cred' | 'sync' | 'evt' | 'msg' | 'ep' | 'dlv' | 'iev';

const next = monotonicFactory();

export const newId = (prefix: IdPrefix): string => `${prefix}_${next().toLowerCase()}`;

/** Cheap shape check so that an odd path id answers 404 without reaching SQL. */
export const looksLikeId = (prefix: IdPrefix, value: string): boolean =>
  new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
