import type { Executor } from '../../db/types.js';
import { statusOf, worstStatus } from '../health/status.js';
import * as store from './store.js';

const byWorkspace = <T extends { workspace_id: string }>(rows: T[]) => {
  const map = new Map<string, T[]>();
  for (const r of rows) map.set(r.workspace_id, [...(map.get(r.workspace_id) ?? []), r]);
  return map;
};

/**
 * One row per visible workspace with what the portal's fleet views show (credentials, key, calls
 * today, outbound webhooks, inbound sources).
 */
export async function workspaceSummaries(db: Executor, only: readonly string[] | undefined, defaultSilentAfterS: number) {
  if (only !== undefined && only.length === 0) return [];
  const rows = await store.fleetRows(db, only, defaultSilentAfterS, new Date().toISOString().slice(0, 10));
  const credsOf = byWorkspace(rows.credentials), keyOf = byWorkspace(rows.keys), callsOf = byWorkspace(rows.calls), endpointsOf = byWorkspace(rows.endpoints);
  const deliveriesOf = byWorkspace(rows.deliveries), eventsOf = byWorkspace(rows.events), sourcesOf = byWorkspace(rows.sources);
  const now = Date.now();
  return rows.workspaces.map((w) => {
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
