/** The fleet of workspaces as the Workspaces and Overview pages read it: filters, colours, what needs attention. */
import type { paths } from '../api';
import { WARNING_COLOR } from './colors';

export type WorkspaceSummary = paths['/v1/health/workspaces']['get']['responses'][200]['content']['application/json']['data'][number];
export type Health = WorkspaceSummary['health'];

export const HEALTH_LABELS: Record<Health, string> = { failing: 'Failing', degraded: 'Degraded', no_key: 'No credential', healthy: 'Healthy' };

/** Green when every credential works, red when one fails or there is none to call with; orange in between. */
export function credentialColour(health: Health): string {
  return health === 'healthy' ? 'teal.9' : health === 'degraded' ? WARNING_COLOR : 'red.9';
}

/**
 * Only a key's first characters are stored (the rest is a SHA-256), so the mask shows those and
 * hides the rest: enough to tell two keys apart, never enough to use one.
 */
export const maskKey = (start: string | null | undefined): string => (start ? `${start}••••…` : 'no key');

/** Share of successes as a percentage with one decimal, or null when nothing happened (not 100 %, not 0 %). */
export function successRate(succeeded: number, total: number): number | null {
  if (total <= 0) return null;
  return Math.round((succeeded / total) * 1000) / 10;
}

/** Green from 99 %, orange from 90 %, red below; grey when there was nothing to rate. */
export function rateColour(rate: number | null): string {
  if (rate === null) return 'gray.8';
  return rate >= 99 ? 'teal.9' : rate >= 90 ? WARNING_COLOR : 'red.9';
}

export const formatRate = (rate: number | null): string => (rate === null ? '—' : `${rate}%`);

/** Calls today and how many of them succeeded. */
export function callsToday(w: WorkspaceSummary): { calls: number; rate: number | null } {
  const { calls, errors } = w.calls_today;
  return { calls, rate: successRate(calls - errors, calls) };
}

export type WebhookState = 'none' | 'failing' | 'disabled' | 'ok';
export function webhookState(w: WorkspaceSummary): WebhookState {
  const h = w.webhooks;
  if (h.endpoints === 0) return 'none';
  if (h.failing > 0) return 'failing';
  if (h.enabled === 0) return 'disabled';
  return 'ok';
}
export const WEBHOOK_STATE: Record<WebhookState, { label: string; color: string }> = {
  none: { label: 'no endpoints', color: 'gray.8' },
  failing: { label: 'failing', color: 'red.9' },
  disabled: { label: 'disabled', color: 'gray.8' },
  ok: { label: 'delivering', color: 'teal.9' },
};

/** The provider instances a workspace's credentials use (Email Bison's "North agency", say). */
export const instancesOf = (w: WorkspaceSummary): string[] =>
  [...new Set(w.credentials.map((c) => c.instance_name).filter((n): n is string => n !== null))];

export interface FleetFilter {
  search: string;
  /** an instance name, or '' for any */
  instance: string;
  /** active | inactive, or '' */
  status: string;
  /** a Health, or '' */
  health: string;
}
export const NO_FILTER: FleetFilter = { search: '', instance: '', status: '', health: '' };

export function filterFleet(list: WorkspaceSummary[], f: FleetFilter): WorkspaceSummary[] {
  const q = f.search.trim().toLowerCase();
  return list.filter((w) =>
    (!q || `${w.name} ${w.id}`.toLowerCase().includes(q)) &&
    (!f.instance || instancesOf(w).includes(f.instance)) &&
    (!f.status || w.status === f.status) &&
    (!f.health || w.health === f.health));
}

export const allInstances = (list: WorkspaceSummary[]): string[] => [...new Set(list.flatMap(instancesOf))].sort();

/** Webhook deliveries across every workspace shown, over the last 24 hours. */
export function webhookRate24h(list: WorkspaceSummary[]): { succeeded: number; failed: number; rate: number | null } {
  const succeeded = list.reduce((n, w) => n + w.webhooks.succeeded_24h, 0);
  const failed = list.reduce((n, w) => n + w.webhooks.failed_24h, 0);
  return { succeeded, failed, rate: successRate(succeeded, succeeded + failed) };
}

export interface AttentionItem {
  key: string;
  workspaceId: string;
  workspaceName: string;
  /** the workspace page's tab that shows the problem */
  tab: 'credentials' | 'webhooks' | 'inbound';
  severity: 'failing' | 'degraded';
  text: string;
}

/**
 * Everything broken or wobbling, worst first: failing credentials, failing endpoints, silent inbound
 * sources, then degraded credentials. Inactive workspaces are left out: nobody is calling them.
 */
export function needsAttention(list: WorkspaceSummary[]): AttentionItem[] {
  const items: Array<AttentionItem & { rank: number }> = [];
  for (const w of list.filter((x) => x.status === 'active')) {
    const base = { workspaceId: w.id, workspaceName: w.name };
    for (const c of w.credentials) {
      if (c.status === 'failing') items.push({ ...base, rank: 0, key: `${w.id}:cred:${c.provider}`, tab: 'credentials', severity: 'failing', text: `${c.provider} credential failing (${c.consecutive_failures} failures in a row)` });
      if (c.status === 'degraded') items.push({ ...base, rank: 3, key: `${w.id}:cred:${c.provider}`, tab: 'credentials', severity: 'degraded', text: `${c.provider} credential degraded (${c.consecutive_failures} failed)` });
    }
    if (w.webhooks.failing > 0) items.push({ ...base, rank: 1, key: `${w.id}:webhooks`, tab: 'webhooks', severity: 'failing', text: `${w.webhooks.failing} webhook endpoint${w.webhooks.failing === 1 ? '' : 's'} failing` });
    for (const s of w.inbound.filter((x) => x.silent)) {
      items.push({ ...base, rank: 2, key: `${w.id}:inbound:${s.id}`, tab: 'inbound', severity: 'degraded', text: `inbound source "${s.name}" silent` });
    }
  }
  return items.sort((a, b) => a.rank - b.rank || a.workspaceName.localeCompare(b.workspaceName)).map(({ rank: _, ...item }) => item);
}

/** "3 min ago", "2 h ago", "5 d ago"; a date further back. */
export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 30 * 86_400) return `${Math.floor(s / 86_400)} d ago`;
  return new Date(iso).toISOString().slice(0, 10);
}
