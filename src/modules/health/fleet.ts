import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { statusOf, worstStatus } from './service.js';

/**
 * One row per visible workspace with what the portal's fleet views show (credentials, key, calls
 * today, outbound webhooks, inbound sources), in a fixed handful of grouped queries: the cost does
 * not grow with the number of workspaces shown, as one call per workspace would.
 */
export async function workspaceSummaries(db: Kysely<DB>, only: readonly string[] | undefined, defaultSilentAfterS: number) {
  if (only !== undefined && only.length === 0) return [];
  const ids = only ? sql`in (${sql.join(only)})` : sql`is not null`;
  const today = new Date().toISOString().slice(0, 10);
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
  const by = <T extends { workspace_id: string }>(rows: T[]) => {
    const map = new Map<string, T[]>();
    for (const r of rows) map.set(r.workspace_id, [...(map.get(r.workspace_id) ?? []), r]);
    return map;
  };
  const credsOf = by(credentials.rows), keyOf = by(keys.rows), callsOf = by(calls.rows), endpointsOf = by(endpoints.rows);
  const deliveriesOf = by(deliveries.rows), eventsOf = by(events.rows), sourcesOf = by(sources.rows);
  const now = Date.now();
  return workspaces.map((w) => {
    const creds = (credsOf.get(w.id) ?? []).map((c) => ({
      provider: c.provider, instance_id: c.instance_id, instance_name: c.instance_name,
      status: statusOf(c.consecutive_failures, true), consecutive_failures: c.consecutive_failures ?? 0, last_error: c.last_error,
    }));
    const key = keyOf.get(w.id)?.[0];
    const t = callsOf.get(w.id)?.[0];
    const ep = endpointsOf.get(w.id)?.[0];
    const d = deliveriesOf.get(w.id)?.[0];
    const inbound = (sourcesOf.get(w.id) ?? []).map((s) => ({
      id: s.id, name: s.name, provider: s.provider, enabled: s.enabled,
      last_received_at: s.last?.toISOString() ?? null,
      // Same rule as the source's own health: silent once it has received and then stopped.
      silent: s.enabled && s.last !== null && now - s.last.getTime() > s.after_s * 1000,
    }));
    const lastInbound = inbound.map((s) => s.last_received_at).filter((x): x is string => x !== null).sort().pop() ?? null;
    const lastOutbound = eventsOf.get(w.id)?.[0]?.last.toISOString() ?? null;
    return {
      id: w.id, name: w.name, organization_id: w.organization_id, status: w.status, test_mode: w.test_mode,
      health: worstStatus(creds.map((c) => c.status)),
      credentials: creds,
      key: key ? { start: key.start, last_used_at: key.last_used_at?.toISOString() ?? null, active: key.active } : null,
      calls_today: { calls: t?.calls ?? 0, errors: t?.errors ?? 0 },
      webhooks: { endpoints: ep?.total ?? 0, enabled: ep?.enabled ?? 0, failing: ep?.failing ?? 0, succeeded_24h: d?.succeeded ?? 0, failed_24h: d?.failed ?? 0 },
      inbound,
      last_event_at: [lastInbound, lastOutbound].filter((x): x is string => x !== null).sort().pop() ?? null,
    };
  });
}
