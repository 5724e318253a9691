import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { AuditRow } from '../../db/types.js';
import type { AuditFilter } from './store.js';

export const auditView = (r: AuditRow) => ({
  seq: Number(r.seq),
  id: r.id,
  at: new Date(r.at).toISOString(),
  workspace_id: r.workspace_id,
  actor: { type: r.actor_type, id: r.actor_id, ip: r.actor_ip, user_agent: r.user_agent, request_id: r.request_id },
  action: r.action,
  category: r.category,
  severity: r.severity,
  resource: r.resource_type ? { type: r.resource_type, id: r.resource_id } : null,
  before: r.before ?? null,
  after: r.after ?? null,
  outcome: r.outcome,
  hash: r.hash,
});

const CSV_COLUMNS = ['seq', 'id', 'at', 'workspace_id', 'actor_type', 'actor_id', 'actor_ip', 'user_agent', 'request_id', 'action', 'category', 'severity', 'resource_type', 'resource_id', 'before', 'after', 'outcome', 'hash'];

// A cell starting with = + - @ would run as a formula when the export is opened in a spreadsheet.
const defuse = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

const csvRow = (r: AuditRow) =>
  stringify([
    [r.seq, r.id, new Date(r.at).toISOString(), r.workspace_id, r.actor_type, r.actor_id, r.actor_ip, r.user_agent, r.request_id, r.action, r.category, r.severity, r.resource_type, r.resource_id, r.before == null ? '' : JSON.stringify(r.before), r.after == null ? '' : JSON.stringify(r.after), r.outcome, r.hash].map((v) => (v == null ? '' : defuse(String(v)))),
  ]);

/** Streams every matching entry, a page at a time: memory stays flat however long the log is. */
export function exportStream(
  list: (filter: AuditFilter, limit: number) => Promise<AuditRow[]>,
  filter: AuditFilter,
  format: 'csv' | 'json',
): Readable {
  async function* rows() {
    let cursor: string | undefined;
    let first = true;
    yield format === 'csv' ? stringify([CSV_COLUMNS]) : '[';
    for (;;) {
      const page = await list({ ...filter, cursor, order: 'asc' }, 500);
      for (const r of page) {
        yield format === 'csv' ? csvRow(r) : `${first ? '' : ','}\n${JSON.stringify(auditView(r))}`;
        first = false;
      }
      if (page.length < 500) break;
      cursor = page[page.length - 1].seq;
    }
    if (format === 'json') yield '\n]\n';
  }
  return Readable.from(rows());
}
