import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { PROVIDER_IDS } from '../providers/types.js';
import { statusOf, worstStatus, type HealthStatus } from '../health/status.js';
import { workspaceSummaries } from './fleet.js';
import * as store from './store.js';

const pct = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10);

/**
 * Views across modules, read-only: a workspace's health, the fleet, coverage and onboarding. What
 * they show is computed from other modules' rows, which only this module may join.
 */
export function createReportingService({ db, silentAfterS }: { db: Kysely<DB>; silentAfterS: number }) {
  return {
    async workspaceHealth(workspaceId: string) {
      const { credentials, health, daily, sync } = await store.workspaceHealthRows(db, workspaceId, new Date(Date.now() - 6 * 86400_000).toISOString().slice(0, 10));
      const today = new Date().toISOString().slice(0, 10);
      const providers = credentials.map((c) => {
        const h = health.find((r) => r.provider === c.provider);
        const days = daily.filter((d) => d.provider === c.provider).map((d) => ({ day: d.day, calls: Number(d.calls), errors: Number(d.errors) }));
        const t = days.find((d) => d.day === today);
        return {
          provider: c.provider,
          status: statusOf(h?.consecutive_failures, true),
          last_success_at: h?.last_success_at?.toISOString() ?? null,
          last_failure_at: h?.last_failure_at?.toISOString() ?? null,
          consecutive_failures: h?.consecutive_failures ?? 0,
          last_status_code: h?.last_status_code ?? null,
          last_error: h?.last_error ?? null,
          today: { calls: t?.calls ?? 0, errors: t?.errors ?? 0, success_rate: t && t.calls ? pct(t.calls - t.errors, t.calls) : null },
          days,
        };
      });
      let status = worstStatus(providers.map((p) => p.status));
      // A sync whose count disagrees with the provider's own total is a silent-wrong-numbers risk: show it.
      if (sync?.status === 'mismatch' && status === 'healthy') status = 'degraded';
      return {
        workspace_id: workspaceId,
        status,
        providers,
        last_sync: sync
          ? { id: sync.id, kind: sync.kind, status: sync.status, fetched: sync.fetched, unique: sync.unique_count, provider_total: sync.provider_total, duplicates: sync.duplicates, finished_at: sync.finished_at?.toISOString() ?? null }
          : null,
      };
    },

    /** Counts and percentages of active workspaces per status (a workspace takes its worst credential's). */
    async summary(only?: readonly string[]) {
      const rows = (await store.activeWorkspaceCredentials(db)).filter((r) => !only || only.includes(r.workspace_id));
      const byWorkspace = new Map<string, HealthStatus[]>();
      for (const r of rows) {
        const list = byWorkspace.get(r.workspace_id) ?? [];
        if (r.provider) list.push(statusOf(r.consecutive_failures, true));
        byWorkspace.set(r.workspace_id, list);
      }
      const counts: Record<HealthStatus, number> = { healthy: 0, degraded: 0, failing: 0, no_key: 0 };
      for (const statuses of byWorkspace.values()) counts[worstStatus(statuses)]++;
      const total = byWorkspace.size;
      return {
        total,
        counts,
        percentages: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, pct(v, total)])) as Record<HealthStatus, number>,
      };
    },

    /** Per provider (and per Email Bison instance): active workspaces with and without a credential. */
    async coverage(only?: readonly string[]) {
      const rows = (await store.activeWorkspaceCredentials(db)).filter((r) => !only || only.includes(r.workspace_id));
      const workspaces = new Set(rows.map((r) => r.workspace_id));
      // A tenant sees only the instances its own workspaces' credentials use.
      const instances = (await store.providerInstances(db)).filter((i) => !only || rows.some((r) => r.instance_id === i.id));
      const providers = PROVIDER_IDS.map((provider) => {
        const withCred = new Set(rows.filter((r) => r.provider === provider).map((r) => r.workspace_id));
        return {
          provider,
          workspaces: workspaces.size,
          with_credential: withCred.size,
          without_credential: workspaces.size - withCred.size,
          coverage_pct: pct(withCred.size, workspaces.size),
          instances: instances
            .filter((i) => i.provider === provider)
            .map((i) => ({ id: i.id, name: i.name, with_credential: rows.filter((r) => r.provider === provider && r.instance_id === i.id).length })),
        };
      });
      return { workspaces: workspaces.size, providers };
    },

    /** Every visible workspace at a glance (undefined: all of them). */
    workspaces: (only: readonly string[] | undefined) => workspaceSummaries(db, only, silentAfterS),

    /** A workspace's onboarding, read off what exists: a step is done because its evidence is in the database. */
    async onboarding(workspaceId: string) {
      const { credentials, tested, sync, inbound } = await store.onboardingEvidence(db, workspaceId);
      const sources = Number(inbound?.sources ?? 0);
      const received = Number(inbound?.received ?? 0);
      const steps = [
        { id: 'credential_stored', label: 'Store a provider credential', done: credentials.length > 0, detail: credentials.length ? credentials.map((c) => c.provider).join(', ') : 'none yet' },
        { id: 'credential_tested', label: 'Test it successfully', done: tested.length > 0, detail: tested[0]?.last_success_at ? `last success ${tested[0].last_success_at.toISOString()}` : 'no successful call yet' },
        { id: 'inbound_configured', label: 'Configure an inbound webhook', done: sources > 0, detail: inbound ? `${sources} source(s)` : 'inbound webhooks are not available in this version' },
        { id: 'inbound_received', label: 'Receive a first inbound event', done: received > 0, detail: inbound ? `${received} event(s)` : 'inbound webhooks are not available in this version' },
        { id: 'first_sync', label: 'Run a first account sync', done: sync !== undefined, detail: sync ? `${sync.status} at ${sync.finished_at?.toISOString()}` : 'not run yet' },
      ];
      return { workspace_id: workspaceId, completed: steps.filter((s) => s.done).length, total: steps.length, steps };
    },
  };
}
export type ReportingService = ReturnType<typeof createReportingService>;
