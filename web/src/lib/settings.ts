/** What the Settings page says about seats, API errors and import reports: plain functions, tested in test/web. */
import { ApiError } from '../api';

export const PLANS = ['free', 'starter', 'professional', 'enterprise'] as const;
export const ROLES = ['admin', 'manager', 'member', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = { admin: 'Admin', manager: 'Manager', member: 'Member', read_only: 'Read only' };

/** "3 of 10 seats", or "3 seats (unlimited)" when the plan sets no limit. */
export function seatsText(used: number | undefined, limit: number | null): string {
  const n = used ?? 0;
  return limit === null ? `${n} ${n === 1 ? 'seat' : 'seats'} (unlimited)` : `${n} of ${limit} seats`;
}

/**
 * The server's message, with what the details add for a person: for a full organization, how
 * many seats there are and what to do about it.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const d = err.details ?? {};
  if (d.reason === 'seat_limit_reached') {
    return `No seat left: ${d.seats_used} of ${d.seat_limit} seats are taken in this organization. Raise its seats or plan under Organizations, or remove someone first.`;
  }
  if (err.status === 403) return `Not allowed: ${err.message}`;
  return err.message;
}

export interface ImportRow {
  row: number;
  workspace_id: string;
  provider: string;
  status: string;
  errors?: string[];
}

export interface ImportOutcome {
  ok: boolean;
  dryRun: boolean;
  summary: string;
  rows: ImportRow[];
}

/**
 * One outcome from either answer: a 200 report, or the 400 a file with a bad row gets (its rows in
 * the error's details). Any other error carries no rows: the file as a whole was refused.
 */
export function importOutcome(result: { ok: boolean; dry_run: boolean; imported: number; rows: ImportRow[] } | ApiError, dryRun: boolean): ImportOutcome {
  if (result instanceof ApiError) {
    const rows = Array.isArray(result.details?.rows) ? (result.details!.rows as ImportRow[]) : [];
    const bad = rows.filter((r) => r.status === 'invalid').length;
    const summary = rows.length
      ? `Nothing imported: ${bad} of ${rows.length} ${rows.length === 1 ? 'row has' : 'rows have'} a problem. Fix ${bad === 1 ? 'it' : 'them'} and import the whole file again.`
      : `Nothing imported: ${result.message}`;
    return { ok: false, dryRun, summary, rows };
  }
  const summary = result.dry_run
    ? `All ${result.rows.length} rows are valid; nothing was written (check only).`
    : `Imported ${result.imported} ${result.imported === 1 ? 'credential' : 'credentials'}.`;
  return { ok: true, dryRun: result.dry_run, summary, rows: result.rows };
}

/** A row's result in words: the server's status, or its errors. */
export const rowMessage = (r: ImportRow): string =>
  r.errors?.length ? r.errors.join('; ') : ({ created: 'created', updated: 'updated (replaced the stored credential)', valid: 'valid' } as Record<string, string>)[r.status] ?? r.status;

export const rowOk = (r: ImportRow) => r.status !== 'invalid';
