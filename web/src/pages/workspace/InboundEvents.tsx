import { Alert, Badge, Button, Code, Group, Modal, ScrollArea, Select, Stack, Text } from '@mantine/core';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api';
import { anyInFlight, EVENT_STATUS_COLOURS, EVENT_STATUSES, prettyBody } from '../../lib/inbound';
import { useCanWrite } from '../../session';
import { DataTable, Loaded } from '../common';
import type { InboundSource } from './Inbound';
import { ErrorNote } from '../../components/dialogs';
import { queryKeys } from '../../lib/query-keys';

type Status = (typeof EVENT_STATUSES)[number];
const PAGE = 50;

/** Events received, newest first, filtered by status and source; each one's payload, and Replay. */
export function EventsViewer({ workspaceId, sources }: { workspaceId: string; sources: InboundSource[] }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const [status, setStatus] = useState<Status | null>(null);
  const [sourceId, setSourceId] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const events = useInfiniteQuery({
    queryKey: queryKeys.inboundEvents(workspaceId, status, sourceId),
    queryFn: ({ pageParam }) => unwrap(client.GET('/v1/workspaces/{id}/inbound-events', {
      params: { path: { id: workspaceId }, query: { limit: PAGE, ...(status ? { status } : {}), ...(sourceId ? { source_id: sourceId } : {}), ...(pageParam ? { cursor: pageParam } : {}) } },
    })),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // While an event is still with the worker (new, or just replayed), its row follows it to the end.
    refetchInterval: (q) => (anyInFlight(q.state.data?.pages.flatMap((p) => p.data) ?? []) ? 1500 : false),
  });
  const replay = useMutation({
    mutationFn: (id: string) => unwrap(client.POST('/v1/inbound-events/{id}/replay', { params: { path: { id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: queryKeys.inboundEvents(workspaceId) }),
  });
  const nameOf = new Map(sources.map((s) => [s.id, s.name]));
  type Row = NonNullable<typeof events.data>['pages'][number]['data'][number];

  const columns: Array<[string, (e: Row) => React.ReactNode]> = [
    ['Received', (e) => <Text size="sm" style={{ whiteSpace: 'nowrap' }}>{new Date(e.received_at).toLocaleString()}</Text>],
    ['Source', (e) => nameOf.get(e.source_id) ?? e.source_id],
    ['Type', (e) => <Text size="sm">{e.provider_type ?? '—'}{e.event_types.length > 0 && ` → ${e.event_types.join(', ')}`}</Text>],
    ['Status', (e) => <Badge color={EVENT_STATUS_COLOURS[e.status] ?? 'gray.8'}>{e.status}</Badge>],
    ['Signature', (e) => e.signature],
    ['Attempts', (e) => `${e.attempts}${e.replays ? ` (${e.replays} replay${e.replays === 1 ? '' : 's'})` : ''}`],
    ['Payload', (e) => <Button size="xs" variant="default" onClick={() => setOpen(e.id)}>View payload</Button>],
  ];
  if (canWrite) columns.push(['Replay', (e) => <Button size="xs" variant="default" loading={replay.isPending && replay.variables === e.id} onClick={() => replay.mutate(e.id)}>Replay</Button>]);

  return (
    <Stack>
      <Group align="flex-end">
        <Select label="Status" placeholder="any status" clearable data={[...EVENT_STATUSES]} value={status} onChange={(v) => setStatus(v as Status | null)} w={180} />
        <Select label="Source" placeholder="any source" clearable data={sources.map((s) => ({ value: s.id, label: s.name }))} value={sourceId} onChange={setSourceId} w={220} />
      </Group>
      {replay.isError && <ErrorNote error={replay.error} title="Not replayed" />}
      {replay.isSuccess && <Text size="sm" c="teal.9" role="status">Replay queued: the event is processed again from its stored body.</Text>}
      <Loaded query={events}>
        {(d) => {
          const rows = d.pages.flatMap((p) => p.data);
          if (rows.length === 0) return <Alert variant="outline" color="gray.9" title="No events">{status || sourceId ? 'No event matches these filters.' : 'Nothing has been received yet: give a source\'s receiving URL to its provider.'}</Alert>;
          return (
            <>
              <DataTable rows={rows} rowKey={(e) => e.id} columns={columns} minWidth={900} />
              {events.hasNextPage && <Button variant="default" onClick={() => events.fetchNextPage()} loading={events.isFetchingNextPage} w="fit-content">Load older events</Button>}
            </>
          );
        }}
      </Loaded>
      <PayloadModal eventId={open} onClose={() => setOpen(null)} />
    </Stack>
  );
}

/** One event as received: the body made readable, and the headers that came with it. */
function PayloadModal({ eventId, onClose }: { eventId: string | null; onClose: () => void }) {
  const event = useQuery({
    queryKey: queryKeys.inboundEvent(eventId),
    queryFn: () => unwrap(client.GET('/v1/inbound-events/{id}', { params: { path: { id: eventId! } } })),
    enabled: eventId !== null,
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={eventId !== null} onClose={onClose} title={`Event ${eventId ?? ''}`} size="xl" centered>
      <Loaded query={event}>
        {(e) => (
          <Stack>
            <Group gap="xs">
              <Badge color={EVENT_STATUS_COLOURS[e.status] ?? 'gray.8'}>{e.status}</Badge>
              <Text size="sm">{e.provider} · {e.signature} · {e.content_type ?? 'no content type'}</Text>
            </Group>
            {e.last_error && <Alert variant="outline" color="red.9" title="Last error">{e.last_error}</Alert>}
            <Text fw={600} size="sm">Payload</Text>
            <ScrollArea.Autosize mah={360}>
              <Code block data-testid="event-payload">{prettyBody(e.body, e.content_type)}</Code>
            </ScrollArea.Autosize>
            <Text fw={600} size="sm">Headers</Text>
            <Code block>{Object.entries(e.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}</Code>
          </Stack>
        )}
      </Loaded>
    </Modal>
  );
}
