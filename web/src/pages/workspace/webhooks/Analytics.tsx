import { Card, Group, Select, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { client, unwrap } from '../../../api';
import { fillSeries, formatLatency } from '../../../lib/webhooks';
import { DataTable, Loaded } from '../../common';
import { endpointLabel, keys, useEndpoints, WINDOWS, type Analytics as Figures, type Window } from './model';
import { RateBadge } from './ui';

const WINDOW_LABELS: Record<Window, string> = { '1h': '1 h', '24h': '24 h', '7d': '7 d', '30d': '30 d' };

/** Attempts in a window, from the server's 5-minute roll-ups; refreshed every 30 s. */
export function Analytics({ workspaceId }: { workspaceId: string }) {
  const endpoints = useEndpoints(workspaceId);
  const [window, setWindow] = useState<Window>('24h');
  const [webhookId, setWebhookId] = useState<string | null>(null);
  // The route leaves its answer's schema open, so this one call is untyped.
  const analytics = useQuery({
    queryKey: keys.analytics(workspaceId, window, webhookId),
    queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/webhooks/analytics', { params: { path: { id: workspaceId }, query: { window, ...(webhookId ? { webhook_id: webhookId } : {}) } } })),
    refetchInterval: 30_000,
  });
  return (
    <Stack>
      <Group align="end" justify="space-between" wrap="wrap">
        <Select label="Endpoint" placeholder="Every endpoint" clearable w={240} value={webhookId} onChange={setWebhookId}
          data={(endpoints.data?.data ?? []).map((e) => ({ value: e.id, label: endpointLabel(e) }))} />
        <SegmentedControl aria-label="Window" value={window} onChange={(v) => setWindow(v as Window)} data={WINDOWS.map((w) => ({ value: w, label: WINDOW_LABELS[w] }))} />
      </Group>
      <Loaded query={analytics}>
        {(a) => (
          <Stack>
            <SimpleGrid cols={{ base: 2, sm: 4 }}>
              <Stat label="Total" value={a.total.toLocaleString()} />
              <Stat label="Succeeded" value={a.succeeded.toLocaleString()} note={<RateBadge rate={a.success_rate} />} />
              <Stat label="Failed" value={a.failed.toLocaleString()} />
              <Stat label="Average response" value={formatLatency(a.avg_latency_ms)} note={<Text size="xs" c="gray.8">p95 {formatLatency(a.p95_latency_ms)}</Text>} />
            </SimpleGrid>
            <Card withBorder>
              <Title order={4} mb="sm">Volume and latency</Title>
              {a.series.length === 0
                ? <Text size="sm" c="gray.8">No attempts in this window.</Text>
                : <Chart series={fillSeries(a.series, a.since, a.bucket, { total: 0, succeeded: 0, failed: 0, success_rate: null, avg_latency_ms: null })} window={window} />}
            </Card>
            <Title order={4}>By endpoint</Title>
            {a.endpoints.length === 0
              ? <Text size="sm" c="gray.8">No endpoint was called in this window.</Text>
              : (
                <DataTable minWidth={640} rows={a.endpoints} rowKey={(r) => r.webhook_id} columns={[
                  ['Endpoint', (r) => endpointLabel({ id: r.webhook_id, name: r.name, url: r.url })],
                  ['Attempts', (r) => r.total],
                  ['Succeeded', (r) => r.succeeded],
                  ['Failed', (r) => r.failed],
                  ['Success', (r) => <RateBadge rate={r.success_rate} />],
                  ['Average', (r) => formatLatency(r.avg_latency_ms)],
                  ['p95', (r) => formatLatency(r.p95_latency_ms)],
                ]} />
              )}
          </Stack>
        )}
      </Loaded>
    </Stack>
  );
}

function Stat({ label, value, note }: { label: string; value: string; note?: React.ReactNode }) {
  return (
    <Card withBorder role="group" aria-label={label}>
      <Text size="sm" c="gray.8">{label}</Text>
      <Text fz={28} fw={700} lh={1.2}>{value}</Text>
      {note}
    </Card>
  );
}

const tick = (window: Window) => (t: string) => {
  const d = new Date(t);
  return window === '1h' || window === '24h' ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric', ...(window === '7d' ? { hour: '2-digit' } : {}) });
};

function Chart({ series, window }: { series: Figures['series']; window: Window }) {
  return (
    <div role="img" aria-label={`Attempts and average latency over the last ${WINDOW_LABELS[window]}`} style={{ width: '100%', height: 280 }}>
      <ResponsiveContainer>
        <ComposedChart data={series} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#dee2e6" />
          <XAxis dataKey="t" tickFormatter={tick(window)} fontSize={12} />
          <YAxis yAxisId="n" allowDecimals={false} fontSize={12} width={40} />
          <YAxis yAxisId="ms" orientation="right" fontSize={12} width={56} tickFormatter={(v: number) => formatLatency(v)} />
          <Tooltip labelFormatter={(t) => new Date(String(t)).toLocaleString()} formatter={(v, name) => (name === 'Average latency' ? formatLatency(Number(v)) : v)} />
          <Legend />
          <Bar yAxisId="n" dataKey="succeeded" name="Succeeded" stackId="n" fill="#087f5b" isAnimationActive={false} />
          <Bar yAxisId="n" dataKey="failed" name="Failed" stackId="n" fill="#c92a2a" isAnimationActive={false} />
          <Line yAxisId="ms" dataKey="avg_latency_ms" name="Average latency" stroke="#1864ab" strokeWidth={2} dot connectNulls type="monotone" isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
