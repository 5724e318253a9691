import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';
import { userBinding } from '../auth/service.js';
import { sourceSecrets, type SourceSecretPurpose } from '../inbound/secrets.js';
import { headersBinding } from '../webhooks/headers.js';
import { endpointSecrets, type SecretPurpose } from '../webhooks/secrets.js';
import { adminBinding, workspaceBinding } from './service.js';

/**
 * Every table that holds sealed secrets, described once: its key columns, the columns its
 * binding needs, and the binding. `vault rewrap` and the backup check walk them all through this
 * list, so a new secret table is covered by both once it is added here.
 */
interface SealedTable {
  table: 'credential_secrets' | 'instance_admin_secrets' | 'webhook_endpoint_secrets' | 'webhook_endpoint_headers' | 'inbound_source_secrets' | 'user_secrets';
  /** The row's identity (its primary key), in the order a report names it. */
  keys: readonly string[];
  from: RawBuilder<unknown>;
  extra: RawBuilder<unknown>;
  binding(row: Row): string;
}

export type Row = Sealed & Record<string, string>;

export const SEALED_TABLES: readonly SealedTable[] = [
  {
    table: 'credential_secrets', keys: ['credential_id', 'field'],
    from: sql`credential_secrets s join credentials c on c.id = s.credential_id`, extra: sql`c.workspace_id, c.provider`,
    binding: (r) => workspaceBinding(r.workspace_id!, r.provider!, r.field!),
  },
  {
    table: 'instance_admin_secrets', keys: ['instance_id'],
    from: sql`instance_admin_secrets s join provider_instances i on i.id = s.instance_id`, extra: sql`i.provider`,
    binding: (r) => adminBinding(r.instance_id!, r.provider!),
  },
  {
    table: 'webhook_endpoint_secrets', keys: ['endpoint_id', 'purpose'],
    from: sql`webhook_endpoint_secrets s`, extra: sql`null as none`,
    binding: (r) => endpointSecrets.binding(r.endpoint_id!, r.purpose as SecretPurpose),
  },
  {
    table: 'webhook_endpoint_headers', keys: ['endpoint_id'],
    from: sql`webhook_endpoint_headers s`, extra: sql`null as none`,
    binding: (r) => headersBinding(r.endpoint_id!),
  },
  {
    table: 'inbound_source_secrets', keys: ['source_id', 'purpose'],
    from: sql`inbound_source_secrets s`, extra: sql`null as none`,
    binding: (r) => sourceSecrets.binding(r.source_id!, r.purpose as SourceSecretPurpose),
  },
  {
    table: 'user_secrets', keys: ['user_id', 'purpose'],
    from: sql`user_secrets s`, extra: sql`null as none`,
    binding: (r) => userBinding(r.user_id!),
  },
];

/**
 * A table's sealed rows in key order, `size` at a time (keyset pagination, so rows that fail or
 * change meanwhile never stall the walk); with `notOn`, only those wrapped by another master key.
 */
export async function* walkSealed(db: Executor, t: SealedTable, opts: { notOn?: string; size?: number } = {}): AsyncGenerator<Row[]> {
  const keys = sql.join(t.keys.map((k) => sql.ref(`s.${k}`)));
  let after: string[] | null = null;
  for (;;) {
    const r: { rows: Row[] } = await sql<Row>`
      select ${keys}, ${t.extra}, s.master_version, s.wrapped_key, s.ciphertext
      from ${t.from}
      where true ${after ? sql`and (${keys}) > (${sql.join(after)})` : sql``} ${opts.notOn ? sql`and s.master_version <> ${opts.notOn}` : sql``}
      order by ${keys} limit ${opts.size ?? 200}`.execute(db);
    if (r.rows.length === 0) return;
    yield r.rows;
    const last: Row = r.rows.at(-1)!;
    after = t.keys.map((k): string => last[k]!);
  }
}

export async function countSealed(db: Executor, opts: { notOn?: string } = {}) {
  let n = 0;
  for (const t of SEALED_TABLES) {
    const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(t.table)} ${opts.notOn ? sql`where master_version <> ${opts.notOn}` : sql``}`.execute(db);
    n += r.rows[0]!.n;
  }
  return n;
}

/** Compare-and-set: only replaces the wrapped key if nobody changed the secret meanwhile. */
export async function replaceWrappedKey(db: Executor, t: SealedTable, row: Row, next: Sealed) {
  const where = sql.join(t.keys.map((k) => sql`${sql.ref(k)} = ${row[k]}`), sql` and `);
  const r = await sql`update ${sql.table(t.table)} set master_version = ${next.master_version}, wrapped_key = ${next.wrapped_key}
    where ${where} and wrapped_key = ${row.wrapped_key}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}
