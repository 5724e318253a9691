import { WARNING_COLOR } from './colors';
/** Browser-side rules for the Webhooks tab: colours, formatting and the form's conversions. */

/** Success-rate bands: at or above 95 % is healthy, 80 % up to 95 % is worth a look, below 80 % is failing. */
export const SUCCESS_GOOD = 95;
export const SUCCESS_WARN = 80;

export type RateBand = 'good' | 'warn' | 'bad' | 'none';

export function rateBand(rate: number | null | undefined): RateBand {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return 'none';
  if (rate >= SUCCESS_GOOD) return 'good';
  if (rate >= SUCCESS_WARN) return 'warn';
  return 'bad';
}

// Dark shades so the badge text keeps AA contrast (axe checks it).
const BAND_COLORS: Record<RateBand, string> = { good: 'teal.9', warn: WARNING_COLOR, bad: 'red.9', none: 'gray.8' };
export const rateColor = (rate: number | null | undefined) => BAND_COLORS[rateBand(rate)];

export const formatRate = (rate: number | null | undefined) => (rate === null || rate === undefined ? 'no calls' : `${rate.toFixed(rate % 1 === 0 ? 0 : 1)} %`);

export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** "3 min ago", "in 5 s": for last-called and next-attempt times. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const diff = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(diff);
  const [n, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.floor(abs / 60), 'min'] : abs < 86_400 ? [Math.floor(abs / 3600), 'h'] : [Math.floor(abs / 86_400), 'd'];
  if (abs < 5) return 'just now';
  return diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** The same rule as the server's event filter: exact types, `prefix.*` wildcards, or `*` for all. */
export const EVENT_FILTER = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

/** Catalog types plus the wildcard for each of their prefixes, for the events picker. */
export function eventChoices(types: string[]): string[] {
  const wildcards = new Set<string>();
  for (const t of types) {
    const parts = t.split('.');
    for (let i = 1; i < parts.length; i++) wildcards.add(`${parts.slice(0, i).join('.')}.*`);
  }
  return ['*', ...[...wildcards].sort(), ...[...types].sort()];
}

export interface HeaderRow { key: string; value: string }

export const headersToRows = (h: Record<string, string> | null | undefined): HeaderRow[] => Object.entries(h ?? {}).map(([key, value]) => ({ key, value }));

/** Rows with an empty name are the form's blank rows, not headers. */
export function rowsToHeaders(rows: HeaderRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.key.trim()) out[r.key.trim()] = r.value;
  return out;
}

/** The first characters of a response body, on one line, for a table cell. */
export function excerpt(body: string | null | undefined, max = 120): string {
  if (!body) return '';
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const UNIT_MS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** The server's bucket size ("5 minutes", "1 hour", "6 hours", "1 day") in ms; null when unreadable. */
export function bucketMs(bucket: string): number | null {
  const m = /^(\d+)\s+([a-z]+)$/.exec(bucket.trim());
  return m && UNIT_MS[m[2]] ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/**
 * The server only returns buckets that had attempts; a chart needs the empty ones too, or an hour
 * with traffic and a quiet week look adjacent. Buckets are aligned to the epoch, as the server's
 * date_bin (origin 2000-01-01) is for every step it uses.
 */
export function fillSeries<T extends { t: string }>(series: T[], since: string, bucket: string, empty: Omit<T, 't'>, now = Date.now()): T[] {
  const step = bucketMs(bucket);
  if (!step) return series;
  const byTime = new Map(series.map((s) => [new Date(s.t).getTime(), s]));
  const out: T[] = [];
  for (let t = Math.floor(new Date(since).getTime() / step) * step; t <= now; t += step) {
    out.push(byTime.get(t) ?? ({ ...empty, t: new Date(t).toISOString() } as T));
  }
  return out;
}
