/** The API Logs tab's filters as the API's query string, and how a call's outcome is coloured. */
import { WARNING_COLOR } from './colors';

export interface LogFilters { status: string; provider: string; from: string; to: string; error: string }
export const NO_FILTERS: LogFilters = { status: '', provider: '', from: '', to: '', error: '' };

/**
 * A `datetime-local` value (the browser's local time, no zone) as ISO-8601 UTC, which the API
 * wants; undefined when empty or not a date.
 */
export function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The query for the list and for the CSV export alike, so the export holds what the table shows. */
export function logQuery(f: LogFilters, extra: Record<string, string | undefined> = {}): URLSearchParams {
  const q = new URLSearchParams();
  const set = (k: string, v: string | undefined) => v && q.set(k, v);
  set('status', f.status);
  set('provider', f.provider);
  set('from', localToIso(f.from));
  set('to', localToIso(f.to));
  set('error', f.error.trim());
  for (const [k, v] of Object.entries(extra)) set(k, v);
  return q;
}

/** A problem with the filters the API would refuse, as a sentence; null when they are fine. */
export function filterProblem(f: LogFilters): string | null {
  if (f.from && !localToIso(f.from)) return 'From is not a date and time';
  if (f.to && !localToIso(f.to)) return 'To is not a date and time';
  const from = localToIso(f.from);
  const to = localToIso(f.to);
  if (from && to && from > to) return 'From is after To';
  return null;
}

/** Teal for 2xx, orange for 4xx (the caller's or the key's problem), red for 5xx and no answer. */
export function statusColor(code: number | null): string {
  if (code === null) return 'red.9';
  if (code < 300) return 'teal.9';
  if (code < 500) return WARNING_COLOR;
  return 'red.9';
}

export const STATUS_OPTIONS = [
  { value: '', label: 'Any status' },
  { value: 'ok', label: 'Succeeded' },
  { value: 'error', label: 'Failed' },
  ...['200', '201', '400', '401', '403', '404', '422', '429', '500', '502', '503'].map((c) => ({ value: c, label: `HTTP ${c}` })),
];
