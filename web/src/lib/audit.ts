/** The audit page's filters as a query string, and an entry's before/after as a list of changes. */

export interface AuditFilters {
  workspace_id?: string | null;
  actor?: string;
  action?: string;
  resource_type?: string;
  resource_id?: string;
  /** `datetime-local` values, read as UTC (the API's and the CSV's time zone). */
  from?: string;
  to?: string;
}

/** One query string for the list and the CSV export, so the download holds exactly what the page shows. */
export function auditParams(f: AuditFilters, extra: Record<string, string> = {}): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of ['workspace_id', 'actor', 'action', 'resource_type', 'resource_id'] as const) {
    const v = f[k]?.trim();
    if (v) p.set(k, v);
  }
  for (const k of ['from', 'to'] as const) {
    const iso = localToIso(f[k]);
    if (iso) p.set(k, iso);
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}

/** `2026-11-30T09:15` (UTC) → `2026-11-30T09:15:00.000Z`; blank or unreadable → undefined. */
export function localToIso(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export type Change = 'added' | 'removed' | 'changed' | 'same';
export interface DiffRow { path: string; before?: string; after?: string; change: Change }

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nested objects become dotted paths (`rate_limit.limit`); arrays and scalars are leaves, shown as JSON. */
function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) out.set(prefix, '{}');
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && (prefix || value !== null)) {
    out.set(prefix || '(value)', typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/** Every field of either side, in a stable order, with what happened to it. */
export function diffAudit(before: unknown, after: unknown): DiffRow[] {
  const b = flatten(before);
  const a = flatten(after);
  const paths = [...new Set([...b.keys(), ...a.keys()])].sort();
  return paths.map((path) => {
    const was = b.get(path);
    const now = a.get(path);
    const change: Change = was === undefined ? 'added' : now === undefined ? 'removed' : was === now ? 'same' : 'changed';
    return { path, before: was, after: now, change };
  });
}

export interface AuditActor { type: string; id: string | null }

/** A person by their email where the page knows it (you, or a member of the workspace); otherwise type and id. */
export function actorLabel(actor: AuditActor, emails: ReadonlyMap<string, string>, myId?: string): string {
  if (actor.id && emails.has(actor.id)) return `${emails.get(actor.id)}${actor.id === myId ? ' (you)' : ''}`;
  // The system actor's id is its type again: say it once.
  return actor.id && actor.id !== actor.type ? `${actor.type} ${actor.id}` : actor.type;
}

/** The actor filter accepts an email the page knows, and sends the API the id it filters on. */
export function actorFilterValue(input: string, emails: ReadonlyMap<string, string>): string {
  const wanted = input.trim().toLowerCase();
  for (const [id, email] of emails) if (email.toLowerCase() === wanted) return id;
  return input.trim();
}
