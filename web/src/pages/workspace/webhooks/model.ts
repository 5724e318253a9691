import { useQuery } from '@tanstack/react-query';
import { client, unwrap, type paths } from '../../../api';
import { fetchAllPages, PAGE_LIMIT } from '../../../lib/paging';

/** The shapes the Webhooks tab works with, taken from the API's OpenAPI document. */
export type Endpoint = paths['/v1/workspaces/{id}/webhooks']['get']['responses'][200]['content']['application/json']['data'][number];
export type Delivery = paths['/v1/webhooks/{id}/deliveries']['get']['responses'][200]['content']['application/json']['data'][number];
export type DeliveryDetail = paths['/v1/deliveries/{id}']['get']['responses'][200]['content']['application/json'];
export type Attempt = DeliveryDetail['attempt_log'][number];

export type Analytics = paths['/v1/workspaces/{id}/webhooks/analytics']['get']['responses'][200]['content']['application/json'];
export type Figures = Pick<Analytics, 'total' | 'succeeded' | 'failed' | 'success_rate' | 'avg_latency_ms'>;
export type Window = Analytics['window'];
export const WINDOWS = ['1h', '24h', '7d', '30d'] as const;

// One key prefix per workspace, so a change can refresh everything the tab shows at once.
export const keys = {
  all: (ws: string) => ['webhooks', ws] as const,
  endpoints: (ws: string) => ['webhooks', ws, 'endpoints'] as const,
  deliveries: (ws: string, endpointId: string) => ['webhooks', ws, 'deliveries', endpointId] as const,
  delivery: (ws: string, id: string) => ['webhooks', ws, 'delivery', id] as const,
  dead: (ws: string, filter: object) => ['webhooks', ws, 'dead', filter] as const,
  analytics: (ws: string, window: Window, endpointId: string | null) => ['webhooks', ws, 'analytics', window, endpointId] as const,
};

export const useEndpoints = (workspaceId: string) =>
  // Success rates and last-called times move as the worker delivers, so the table refreshes itself.
  useQuery({ queryKey: keys.endpoints(workspaceId), refetchInterval: 30_000, queryFn: () =>
    fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces/{id}/webhooks', { params: { path: { id: workspaceId }, query: { cursor, limit: PAGE_LIMIT } } }))) });

export const endpointLabel = (e: { id: string; name: string | null; url?: string | null }) => e.name ?? e.url ?? e.id;
