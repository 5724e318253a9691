import { sql, type Insertable, type Selectable } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';
import type { DB, Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';

export type SsoConfigRow = Selectable<DB['sso_configs']>;
export type AttemptRow = Selectable<DB['sso_attempts']>;
export type NewAttempt = Insertable<DB['sso_attempts']>;

export type ConfigFields = Pick<SsoConfigRow, 'preset' | 'issuer' | 'client_id' | 'enforce' | 'default_role'>;

export const configOf = (db: Executor, organizationId: string) =>
  db.selectFrom('sso_configs').selectAll().where('organization_id', '=', organizationId).executeTakeFirst();

/** The configuration of the organization that has proven an email domain (an unproven claim routes nobody). */
export const configByDomain = (db: Executor, domain: string) =>
  db.selectFrom('sso_domains as d').innerJoin('sso_configs as c', 'c.organization_id', 'd.organization_id')
    .selectAll('c').where('d.domain', '=', domain).where('d.verified_at', 'is not', null).executeTakeFirst();

export type DomainRow = Selectable<DB['sso_domains']>;

export const domainRowsOf = (db: Executor, organizationId: string) =>
  db.selectFrom('sso_domains').selectAll().where('organization_id', '=', organizationId).orderBy('domain').execute();

export async function markVerified(db: Executor, organizationId: string, domain: string, by: string) {
  return db.updateTable('sso_domains').set({ verified_at: new Date(), verified_by: by })
    .where('organization_id', '=', organizationId).where('domain', '=', domain).returningAll().executeTakeFirst();
}

/** Which of these domains another organization already claims. */
export async function domainsClaimedElsewhere(db: Executor, organizationId: string, domains: string[]) {
  if (domains.length === 0) return [];
  return db.selectFrom('sso_domains').select(['domain', 'organization_id'])
    .where('domain', 'in', domains).where('organization_id', '<>', organizationId).execute();
}

/**
 * Inserts or replaces the configuration; `secret` absent keeps the sealed secret already stored.
 * Locks the row (or its absence, through the insert) for the domains written after it.
 */
export async function putConfig(db: Executor, organizationId: string, fields: ConfigFields, secret: (Sealed & { mask: string }) | null) {
  const now = new Date();
  if (secret) {
    return db.insertInto('sso_configs').values({ organization_id: organizationId, ...fields, ...secret, updated_at: now })
      .onConflict((oc) => oc.column('organization_id').doUpdateSet({ ...fields, ...secret, updated_at: now }))
      .returningAll().executeTakeFirstOrThrow();
  }
  return db.updateTable('sso_configs').set({ ...fields, updated_at: now }).where('organization_id', '=', organizationId).returningAll().executeTakeFirst();
}

/**
 * The organization's domains become exactly `domains` (a domain claimed elsewhere fails the unique
 * key). A domain kept keeps its proof; a new one gets a challenge, or is proven at once by `proven`.
 */
export async function replaceDomains(db: Executor, organizationId: string, domains: string[], fresh: (domain: string) => { challenge: string; proven: string | null }) {
  const kept = new Set((await domainRowsOf(db, organizationId)).map((r) => r.domain));
  const gone = [...kept].filter((d) => !domains.includes(d));
  if (gone.length) await db.deleteFrom('sso_domains').where('organization_id', '=', organizationId).where('domain', 'in', gone).execute();
  const added = domains.filter((d) => !kept.has(d));
  if (added.length === 0) return;
  await db.insertInto('sso_domains').values(added.map((domain) => {
    const { challenge, proven } = fresh(domain);
    return { domain, organization_id: organizationId, challenge, verified_at: proven ? new Date() : null, verified_by: proven };
  })).execute();
}

/** Whether any of these organizations requires single sign-on. */
export async function enforcingAmong(db: Executor, organizationIds: string[]): Promise<string[]> {
  if (organizationIds.length === 0) return [];
  const rows = await db.selectFrom('sso_configs').select('organization_id').where('organization_id', 'in', organizationIds).where('enforce', '=', true).execute();
  return rows.map((r) => r.organization_id);
}

export async function insertAttempt(db: Executor, attempt: NewAttempt) {
  await db.insertInto('sso_attempts').values(attempt).execute();
}

/** Attempts past their time are of no use to anyone: cleared as new ones are made. */
export async function deleteExpiredAttempts(db: Executor) {
  await sql`delete from sso_attempts where expires_at < now()`.execute(db);
}

/**
 * Takes an attempt: the DELETE both reads and spends it, so of two callbacks carrying one state
 * exactly one gets the row (a replay gets nothing). An expired attempt is spent too, and not returned.
 */
export async function takeAttempt(db: Executor, stateHash: string): Promise<AttemptRow | undefined> {
  const { rows } = await sql<AttemptRow & { live: boolean }>`
    delete from sso_attempts where state_hash = ${stateHash}
    returning *, expires_at > now() as live`.execute(db);
  const row = rows[0];
  if (!row?.live) return undefined;
  const { live: _live, ...attempt } = row;
  return attempt;
}

/** Organizations' sealed SSO client secrets. */
export const SSO_SECRETS: SealedTable = { table: 'sso_configs', keys: ['organization_id'], from: sql`sso_configs s`, extra: sql`null as none` };
