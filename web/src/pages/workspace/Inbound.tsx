import { Group, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { client, unwrap, type paths } from '../../api';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { useCanWrite } from '../../session';
import { AddSourceButton } from './InboundAddSource';
import { EventsViewer } from './InboundEvents';
import { SourcesTable } from './InboundSources';
import { queryKeys } from '../../lib/query-keys';

export type InboundSource = paths['/v1/workspaces/{id}/inbound-sources']['get']['responses'][200]['content']['application/json']['data'][number];

/** Webhooks the workspace receives: its sources (receiving URLs) and the events they took in. */
export function InboundTab({ workspaceId }: { workspaceId: string }) {
  const canWrite = useCanWrite(workspaceId);
  const sources = useQuery({
    queryKey: queryKeys.inboundSources(workspaceId),
    queryFn: async () => (await fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces/{id}/inbound-sources', { params: { path: { id: workspaceId }, query: { cursor, limit: PAGE_LIMIT } } })))).data,
  });
  return (
    <Stack gap="lg">
      <Stack gap="sm">
        <Group justify="space-between">
          <Stack gap={0}>
            <Title order={3}>Sources</Title>
            <Text size="sm">Each source has its own receiving URL; Gatehouse checks the provider's signature before it accepts an event.</Text>
          </Stack>
          {canWrite && <AddSourceButton workspaceId={workspaceId} />}
        </Group>
        <SourcesTable workspaceId={workspaceId} sources={sources} />
      </Stack>
      <Stack gap="sm">
        <Title order={3}>Events</Title>
        <EventsViewer workspaceId={workspaceId} sources={sources.data ?? []} />
      </Stack>
    </Stack>
  );
}
