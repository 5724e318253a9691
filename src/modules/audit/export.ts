import type { AuditRow } from '../../db/types.js';
import { exportStream } from '../../lib/export.js';
import type { AuditFilter } from './store.js';

export const auditView = (r: AuditRow) => ({
  seq: Number(r.seq),
  id: r.id,
  at: new Date(r.at).toISOString(),
  workspace_id: r.workspace_id,
  organization_id: r.organization_id,
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

const COLUMNS = ['seq', 'id', 'at', 'workspace_id', 'actor_type', 'actor_id', 'actor_ip', 'user_agent', 'request_id', 'action', 'category', 'severity', 'resource_type', 'resource_id', 'before', 'after', 'outcome', 'hash', 'organization_id'] as const;

/** Every matching entry, oldest first, streamed as CSV or JSON. */
export function auditExport(list: (filter: AuditFilter, limit: number) => Promise<AuditRow[]>, filter: AuditFilter, format: 'csv' | 'json') {
  return exportStream<AuditRow>(
    {
      page: (cursor, size) => list({ ...filter, cursor, order: 'asc' }, size),
      cursorOf: (r) => r.seq,
      columns: [...COLUMNS],
      csvRow: (r) => COLUMNS.map((c) => (c === 'at' ? new Date(r.at).toISOString() : r[c])),
      jsonRow: auditView,
    },
    format,
  );
}
