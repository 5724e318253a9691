import { Alert, Badge, Button, Group, Select, Stack, Text, TextInput } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api';
import { filterProblem, logQuery, NO_FILTERS, STATUS_OPTIONS, statusColor, type LogFilters } from '../../lib/apiLogs';
import { DataTable, Loaded } from '../common';
import { queryKeys } from '../../lib/query-keys';

const PAGE = 50;

/** Every call Gatehouse made to a provider for this workspace, newest first, with the CSV export. */
export function ApiLogsTab({ workspaceId }: { workspaceId: string }) {
  const [filters, setFilters] = useState<LogFilters>(NO_FILTERS);
  // Cursors of the pages before this one, so Previous goes back without the API keeping state.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const problem = filterProblem(filters);
  const q = logQuery(filters);
  const catalog = useQuery({ queryKey: queryKeys.providers, queryFn: () => unwrap(client.GET('/v1/providers')), staleTime: 5 * 60_000 });
  const logs = useQuery({
    queryKey: queryKeys.apiLogs(workspaceId, q.toString(), cursor),
    queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/api-logs', { params: { path: { id: workspaceId }, query: { ...Object.fromEntries(q), cursor, limit: PAGE } } })),
    enabled: !problem,
    placeholderData: keepPreviousData,
  });
  const change = (patch: Partial<LogFilters>) => {
    setFilters((f) => ({ ...f, ...patch }));
    setCursors([]);
  };
  const csv = `/v1/workspaces/${encodeURIComponent(workspaceId)}/api-logs?${logQuery(filters, { format: 'csv' })}`;

  return (
    <Stack>
      <Group align="end" wrap="wrap">
        <Select label="Status" data={STATUS_OPTIONS} value={filters.status} onChange={(v) => change({ status: v ?? '' })} allowDeselect={false} w={160} />
        <Select label="Provider" data={[{ value: '', label: 'Any provider' }, ...(catalog.data?.data ?? []).map((p) => ({ value: p.id, label: p.name }))]} value={filters.provider} onChange={(v) => change({ provider: v ?? '' })} allowDeselect={false} w={180} />
        <TextInput label="From" type="datetime-local" value={filters.from} onChange={(e) => change({ from: e.currentTarget.value })} />
        <TextInput label="To" type="datetime-local" value={filters.to} onChange={(e) => change({ to: e.currentTarget.value })} />
        <TextInput label="Error contains" placeholder="e.g. unauthorized" value={filters.error} maxLength={200} onChange={(e) => change({ error: e.currentTarget.value })} />
        {Object.values(filters).some(Boolean) && <Button variant="subtle" onClick={() => change(NO_FILTERS)}>Clear filters</Button>}
        <Button component="a" variant="default" href={csv} download aria-disabled={problem !== null || undefined}>Export CSV</Button>
      </Group>
      {problem ? (
        <Alert variant="outline" color="red.9" title="Check the filters">{problem}</Alert>
      ) : (
        <Loaded query={logs} empty={(d) => d.data.length === 0 && !cursor}>
          {(d) => (
            <>
              <DataTable minWidth={900} rows={d.data} rowKey={(r) => String(r.id)} columns={[
                ['Time', (r) => <Text size="sm" style={{ whiteSpace: 'nowrap' }}>{new Date(r.created_at).toLocaleString()}</Text>],
                ['Provider', (r) => r.provider],
                ['Method', (r) => <code>{r.method}</code>],
                ['Path', (r) => <code>{r.endpoint}</code>],
                ['Status', (r) => <Badge color={statusColor(r.status_code)}>{r.status_code ?? 'none'}</Badge>],
                ['Latency', (r) => `${r.duration_ms} ms`],
                ['Attempts', (r) => r.attempts],
                ['Trigger', (r) => r.trigger],
                ['Error', (r) => (r.error ? <Text size="sm" c="red.9">{r.error}</Text> : '–')],
              ]} />
              <Group justify="space-between">
                <Text size="sm" c="gray.8">{d.data.length} call(s) on this page</Text>
                <Group>
                  <Button variant="default" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous</Button>
                  <Button variant="default" disabled={!d.next_cursor} onClick={() => d.next_cursor && setCursors((c) => [...c, d.next_cursor!])}>Next</Button>
                </Group>
              </Group>
            </>
          )}
        </Loaded>
      )}
    </Stack>
  );
}
