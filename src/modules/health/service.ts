import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { ownEvent } from '../webhooks/catalog.js';
import { publish } from '../webhooks/publish.js';
import { PROVIDER_IDS } from '../providers/types.js';
import * as store from './store.js';

export type HealthStatus = 'healthy' | 'degraded' | 'failing' | 'no_key';
const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, failing: 2, no_key: 3 };
export const FAILING_AFTER = 3;

export function statusOf(consecutiveFailures: number | null | undefined, hasCredential: boolean): HealthStatus {
  if (!hasCredential) return 'no_key';
  const n = consecutiveFailures ?? 0;
  return n >= FAILING_AFTER ? 'failing' : n >= 1 ? 'degraded' : 'healthy';
}

export const worstStatus = (statuses: HealthStatus[]): HealthStatus =>
  statuses.length === 0 ? 'no_key' : statuses.reduce((a, b) => (RANK[b] > RANK[a] && b !== 'no_key' ? b : a), 'healthy' as HealthStatus);

const pct = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10);

/** Gatehouse's own event, in the transaction that caused it; outbound webhooks deliver it. */
export async function emitEvent(trx: Executor, workspaceId: string, event: ReturnType<typeof ownEvent>) {
  await publish(trx, workspaceId, event);
}

export function createHealthService({ db }: { db: Kysely<DB> }) {
  return {
    /**
     * One call's outcome; crossing into or out of failing emits an event in the same transaction.
     * `alongside` (the upstream call log row) is written with it, so a call is logged and counted
     * together. A success with no run of failures, nearly every call, is one statement.
     */
    async record(outcome: store.Outcome, alongside: store.Alongside) {
      const steady = outcome.verdict === 'ok' && (await store.recordSteadySuccess(db, outcome, alongside));
      if (steady) return;
      const counted = outcome.verdict === 'ok';
      await db.transaction().execute(async (trx) => {
        if (!counted) await alongside(trx).execute();
        const { before, after } = await store.recordOutcome(trx, outcome, { counted });
        const payload = { workspace_id: outcome.workspaceId, provider: outcome.provider, consecutive_failures: after, status_code: outcome.statusCode, error: outcome.message };
        if (before < FAILING_AFTER && after >= FAILING_AFTER) await emitEvent(trx, outcome.workspaceId, ownEvent('gatehouse.credential.failing', payload));
        if (before >= FAILING_AFTER && after === 0) await emitEvent(trx, outcome.workspaceId, ownEvent('gatehouse.credential.recovered', payload));
      });
    },

    async workspace(workspaceId: string) {
      const [credentials, health, daily, sync] = await Promise.all([
        db.selectFrom('credentials').select(['provider', 'instance_id']).where('workspace_id', '=', workspaceId).execute(),
        store.healthRows(db, workspaceId),
        store.dailyRows(db, workspaceId, new Date(Date.now() - 6 * 86400_000).toISOString().slice(0, 10)),
        store.latestSync(db, workspaceId),
      ]);
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
      const rows = (await store.fleet(db)).filter((r) => !only || only.includes(r.workspace_id));
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
      const rows = (await store.fleet(db)).filter((r) => !only || only.includes(r.workspace_id));
      const workspaces = new Set(rows.map((r) => r.workspace_id));
      // A tenant sees only the instances its own workspaces' credentials use.
      const instances = (await db.selectFrom('provider_instances').select(['id', 'name', 'provider']).execute()).filter((i) => !only || rows.some((r) => r.instance_id === i.id));
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
  };
}
export type HealthService = ReturnType<typeof createHealthService>;
