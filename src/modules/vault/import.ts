import { parse } from 'csv-parse/sync';
import type { Actor } from '../../http/actor.js';
import { AppError, invalid } from '../../lib/errors.js';
import type { TenancyService } from '../tenancy/service.js';
import type { Prepared, VaultService } from './service.js';

/** Columns of an import file: these three, then any field names of the row's provider (see GET /v1/providers). */
export const FIXED_COLUMNS = ['workspace_id', 'provider', 'name'] as const;
const MAX_ROWS = 10_000;

export interface ImportRowReport {
  row: number;
  workspace_id: string;
  provider: string;
  status: 'valid' | 'invalid' | 'created' | 'updated';
  /** Field names and rules only: a value from the file is never repeated back. */
  errors?: string[];
}

export interface ImportReport {
  ok: boolean;
  dry_run: boolean;
  imported: number;
  rows: ImportRowReport[];
}

function parseRows(text: string): Array<{ line: number; record: Record<string, string> }> {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    // info: the line each record ends on, so the report names the file's real line even after blank lines.
    records = parse(text, { columns: true, bom: true, trim: true, skip_empty_lines: true, relax_column_count: false, info: true });
  } catch (err) {
    // csv-parse names the line and the problem; it quotes no cell content in these messages.
    throw invalid(`the file is not valid CSV: ${(err as Error).message.split('\n')[0].replace(/"[^"]*"/g, '…')}`);
  }
  if (records.length === 0) throw invalid('the file has no rows');
  if (records.length > MAX_ROWS) throw invalid(`at most ${MAX_ROWS} rows per import`);
  const header = Object.keys(records[0].record);
  const absent = ['workspace_id', 'provider'].filter((c) => !header.includes(c));
  if (absent.length) throw invalid(`missing columns: ${absent.join(', ')}`, { missing_columns: absent });
  // A quoted value spanning lines ends the record further down: count back to the line it starts on.
  const newlines = (r: Record<string, string>) => Object.values(r).join('').split('\n').length - 1;
  return records.map(({ record, info }) => ({ line: info.lines - newlines(record), record }));
}

/**
 * Every row is validated before any is written; then all are written in one transaction, so a bad
 * file changes nothing and a good one lands whole.
 */
export async function importCredentials(
  deps: { vault: VaultService; tenancy: TenancyService },
  actor: Actor,
  csv: string,
  opts: { dryRun?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<ImportReport> {
  const rows = parseRows(csv);
  const seen = new Set<string>();
  const prepared: Array<{ p: Prepared; name?: string; report: ImportRowReport }> = [];
  const report: ImportRowReport[] = [];
  for (const { line, record } of rows) {
    const { workspace_id = '', provider = '', name, ...fields } = record;
    const entry: ImportRowReport = { row: line, workspace_id, provider, status: 'valid' };
    report.push(entry);
    const input = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== ''));
    try {
      const pair = `${workspace_id}|${provider}`;
      if (seen.has(pair)) throw invalid('the same workspace and provider appear on an earlier row');
      seen.add(pair);
      await deps.tenancy.requireWorkspace(actor, workspace_id);
      prepared.push({ p: await deps.vault.prepare(workspace_id, provider, input, actor), name: name || undefined, report: entry });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      entry.status = 'invalid';
      const d = err.details ?? {};
      entry.errors = [err.message, ...(['unknown_fields', 'missing_fields'] as const).filter((k) => d[k]).map((k) => `${k}: ${(d[k] as string[]).join(', ')}`)];
    }
    opts.onProgress?.(report.length, rows.length * (opts.dryRun ? 1 : 2));
  }
  const ok = report.every((r) => r.status === 'valid');
  if (!ok || opts.dryRun) return { ok, dry_run: !!opts.dryRun, imported: 0, rows: report };

  await deps.vault.writeAll(actor, prepared, (i) => {
    const item = prepared[i]!; // i is writeAll's own index into `prepared`
    item.report.status = item.p.existing ? 'updated' : 'created';
    opts.onProgress?.(rows.length + i + 1, rows.length * 2);
  });
  return { ok: true, dry_run: false, imported: prepared.length, rows: report };
}
