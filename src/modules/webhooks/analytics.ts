import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import type { TenancyService } from '../tenancy/service.js';
import type { EndpointService } from './endpoints.js';
import { LATENCY_BOUNDS_MS } from './record.js';
import * as store from './store-analytics.js';

export const WINDOWS = {
  '1h': { seconds: 3600, step: '5 minutes' },
  '24h': { seconds: 86_400, step: '1 hour' },
  '7d': { seconds: 7 * 86_400, step: '6 hours' },
  '30d': { seconds: 30 * 86_400, step: '1 day' },
} as const;
export type Window = keyof typeof WINDOWS;

/**
 * A percentile from the summed latency histogram, interpolated linearly inside its bucket (the open
 * last bucket reports its lower bound). Null when there were no attempts.
 */
export function percentileOf(counts: number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      if (i >= LATENCY_BOUNDS_MS.length) return lower;
      return Math.round(lower + ((rank - seen) / counts[i]) * (LATENCY_BOUNDS_MS[i] - lower));
    }
    seen += counts[i];
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

type Sums = store.StatSums;
const figures = (s: Sums) => ({
  total: s.attempts,
  succeeded: s.succeeded,
  failed: s.failed,
  success_rate: s.attempts === 0 ? null : Math.round((s.succeeded / s.attempts) * 10_000) / 100,
  avg_latency_ms: s.attempts === 0 ? null : Math.round(s.latency_sum_ms / s.attempts),
});

/**
 * Attempts in the window, from the 5-minute roll-ups only (never the attempts table): totals,
 * success rate, average and p95 latency, a time series, and one row per endpoint.
 */
async function analytics(db: Kysely<DB>, workspaceId: string, window: Window, webhookId?: string) {
  const { seconds, step } = WINDOWS[window];
  const since = new Date(Date.now() - seconds * 1000);
  const { series, perEndpoint, buckets } = await store.readStats(db, workspaceId, since, step, webhookId);

  const histogram = (endpointId?: string) => {
    const counts = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (const b of buckets) if (!endpointId || b.endpoint_id === endpointId) counts[b.i - 1] += b.n;
    return counts;
  };
  const total = perEndpoint.reduce<Sums>(
    (a, r) => ({ attempts: a.attempts + r.attempts, succeeded: a.succeeded + r.succeeded, failed: a.failed + r.failed, latency_sum_ms: a.latency_sum_ms + r.latency_sum_ms }),
    { attempts: 0, succeeded: 0, failed: 0, latency_sum_ms: 0 },
  );
  const names = await store.endpointLabels(db, workspaceId, perEndpoint.map((r) => r.endpoint_id));
  return {
    window,
    since: since.toISOString(),
    bucket: step,
    ...figures(total),
    p95_latency_ms: percentileOf(histogram(), 0.95),
    series: series.map((r) => ({ t: new Date(r.t).toISOString(), ...figures(r) })),
    endpoints: perEndpoint
      .map((r) => {
        const n = names.find((x) => x.id === r.endpoint_id);
        return { webhook_id: r.endpoint_id, name: n?.name ?? null, url: n?.url ?? null, ...figures(r), p95_latency_ms: percentileOf(histogram(r.endpoint_id), 0.95) };
      })
      .sort((a, b) => b.total - a.total),
  };
}

/** A workspace's delivery figures (of one of its endpoints, or all) for whoever may read them. */
export function createAnalyticsService({ db, tenancy, endpoints }: { db: Kysely<DB>; tenancy: TenancyService; endpoints: EndpointService }) {
  return {
    async forWorkspace(actor: Actor, workspaceId: string, window: Window, webhookId?: string) {
      await tenancy.requireWorkspace(actor, workspaceId);
      if (webhookId) await endpoints.locate(actor, webhookId);
      return analytics(db, workspaceId, window, webhookId);
    },
  };
}
export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
