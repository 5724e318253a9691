export function retentionRowsSql(opts: {
  workspaceId: string;
  sourceId: string;
  endpointId: string;
  /** About this many rows across the call log, delivery attempts and inbound events. */
  rows: number;
  /** The share of each table older than its retention (0.9 unless given). */
  expiredShare?: number;
  /** Retention in days, as configured. */
  retention: { callLog: number; webhooks: number; inbound: number };
}): string[];
