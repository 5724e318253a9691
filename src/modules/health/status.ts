/** A credential's health from its run of failed calls, and a workspace's from its credentials'. */
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
