import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';

/**
 * Read-only views across modules' tables: the one place allowed to join them, and it never writes.
 * Every function here reads; a change of state belongs in the owning module's store.
 */

const inList = (only: readonly string[] | undefined) => (only ? sql`in (${sql.join(only)})` : sql`is not null`);

/** Every active workspace with, per provider it has a credential for, its consecutive failures. */
export async function activeWorkspaceCredentials(db: Executor) {
  return db
    .selectFrom('workspaces as w')
    .leftJoin('credentials as c', 'c.workspace_id', 'w.id')
    .leftJoin('credential_health as h', (j) => j.onRef('h.workspace_id', '=', 'w.id').onRef('h.provider', '=', 'c.provider'))
    .select(['w.id as workspace_id', 'w.name', 'c.provider', 'c.instance_id', 'h.consecutive_failures'])
    .where('w.status', '=', 'active')
    .execute();
}

export async function providerInstances(db: Executor) {
  return db.selectFrom('provider_instances').select(['id', 'name', 'provider']).execute();
}

/** A workspace's credentials with their health and last week of calls, and its latest sync. */
export async function workspaceHealthRows(db: Executor, workspaceId: string, since: string) {
  const [credentials, health, daily, sync] = await Promise.all([
    db.selectFrom('credentials').select(['provider', 'instance_id']).where('workspace_id', '=', workspaceId).execute(),
    db.selectFrom('credential_health').selectAll().where('workspace_id', '=', workspaceId).execute(),
    db.selectFrom('credential_health_daily').selectAll().where('workspace_id', '=', workspaceId).where('day', '>=', since).orderBy('day').execute(),
    db.selectFrom('sync_runs').selectAll().where('workspace_id', '=', workspaceId).orderBy('started_at', 'desc').limit(1).executeTakeFirst(),
  ]);
  return { credentials, health, daily, sync };
}

/**
 * What the fleet view shows per workspace, in a fixed handful of grouped queries: the cost does
 * not grow with the number of workspaces shown, as one call per workspace would.
 */
export async function fleetRows(db: Executor, only: readonly string[] | undefined, defaultSilentAfterS: number, today: string) {
  const ids = inList(only);
  const [workspaces, credentials, keys, calls, endpoints, deliveries, events, sources] = await Promise.all([
    db.selectFrom('workspaces').selectAll().where(sql<boolean>`id ${ids}`).orderBy('created_at').execute(),
    sql<{ workspace_id: string; provider: string; instance_id: string | null; instance_name: string | null; consecutive_failures: number | null; last_error: string | null }>`
      select c.workspace_id, c.provider, c.instance_id, i.name as instance_name, h.consecutive_failures, h.last_error
      from credentials c
      left join provider_instances i on i.id = c.instance_id
      left join credential_health h on h.workspace_id = c.workspace_id and h.provider = c.provider
      where c.workspace_id ${ids} order by c.provider`.execute(db),
    // The key to recognise a workspace by: its most recently used live key (else its newest).
    sql<{ workspace_id: string; start: string; last_used_at: Date | null; active: number }>`
      select distinct on (workspace_id) workspace_id, start, last_used_at, count(*) over (partition by workspace_id)::int as active
      from api_keys where workspace_id ${ids} and revoked_at is null and (expires_at is null or expires_at > now())
      order by workspace_id, last_used_at desc nulls last, created_at desc`.execute(db),
    sql<{ workspace_id: string; calls: number; errors: number }>`
      select workspace_id, sum(calls)::int as calls, sum(errors)::int as errors
      from credential_health_daily where workspace_id ${ids} and day = ${today} group by workspace_id`.execute(db),
    sql<{ workspace_id: string; total: number; enabled: number; failing: number }>`
      select workspace_id, count(*)::int as total, count(*) filter (where enabled)::int as enabled,
        count(*) filter (where failing_since is not null)::int as failing
      from webhook_endpoints where workspace_id ${ids} group by workspace_id`.execute(db),
    sql<{ workspace_id: string; succeeded: number; failed: number }>`
      select workspace_id, sum(succeeded)::int as succeeded, sum(failed)::int as failed
      from webhook_stats where workspace_id ${ids} and period > now() - interval '24 hours' group by workspace_id`.execute(db),
    sql<{ workspace_id: string; last: Date }>`
      select workspace_id, max(created_at) as last from events where workspace_id ${ids} group by workspace_id`.execute(db),
    sql<{ workspace_id: string; id: string; name: string; provider: string; enabled: boolean; after_s: number; last: Date | null }>`
      select s.workspace_id, s.id, s.name, s.provider, s.enabled, coalesce(s.silent_after_s, ${defaultSilentAfterS})::int as after_s,
        (select max(received_at) from inbound_events e where e.source_id = s.id) as last
      from inbound_sources s where s.workspace_id ${ids} order by s.created_at`.execute(db),
  ]);
  return {
    workspaces, credentials: credentials.rows, keys: keys.rows, calls: calls.rows, endpoints: endpoints.rows,
    deliveries: deliveries.rows, events: events.rows, sources: sources.rows,
  };
}

/** The evidence of a workspace's onboarding steps. */
export async function onboardingEvidence(db: Executor, workspaceId: string) {
  const credentials = await db.selectFrom('credentials').select('provider').where('workspace_id', '=', workspaceId).execute();
  // Only successes of credentials that still exist count: a deleted credential's history does not.
  const tested = await db
    .selectFrom('credential_health as h')
    .innerJoin('credentials as c', (j) => j.onRef('c.workspace_id', '=', 'h.workspace_id').onRef('c.provider', '=', 'h.provider'))
    .select(['h.provider', 'h.last_success_at'])
    .where('h.workspace_id', '=', workspaceId)
    .where('h.last_success_at', 'is not', null)
    .where((eb) => eb('h.last_success_at', '>=', eb.ref('c.created_at')))
    .execute();
  const sync = await db
    .selectFrom('sync_runs')
    .select(['status', 'finished_at'])
    .where('workspace_id', '=', workspaceId)
    .where('status', 'in', ['ok', 'mismatch'])
    .orderBy('started_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  // Inbound sources arrive with the inbound-webhooks release; until their table exists the steps stay open.
  const exists = (await sql<{ t: string | null }>`select to_regclass('inbound_sources') as t`.execute(db)).rows[0]?.t != null;
  const inbound = exists
    ? (await sql<{ sources: string; received: string }>`
        select (select count(*) from inbound_sources where workspace_id = ${workspaceId}) as sources,
               (select count(*) from inbound_events where workspace_id = ${workspaceId}) as received`.execute(db)).rows[0]
    : null;
  return { credentials, tested, sync, inbound };
}

/** Credentials of active workspaces by their run of failures, for the metrics scrape. */
export async function credentialHealthCounts(db: Executor, failingAfter: number) {
  const r = await sql<{ healthy: number; degraded: number; failing: number }>`
    select count(*) filter (where coalesce(h.consecutive_failures, 0) = 0)::int as healthy,
           count(*) filter (where h.consecutive_failures between 1 and ${failingAfter - 1})::int as degraded,
           count(*) filter (where h.consecutive_failures >= ${failingAfter})::int as failing
    from credentials c
    join workspaces w on w.id = c.workspace_id and w.status = 'active'
    left join credential_health h on h.workspace_id = c.workspace_id and h.provider = c.provider`.execute(db);
  return r.rows[0] ?? { healthy: 0, degraded: 0, failing: 0 };
}
