import { Badge, Button, Group, Stack, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api';
import { deviceText } from '../../lib/account';
import { formatWhen } from '../../lib/time';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { ErrorAlert, SectionHead } from './parts';
import { queryKeys } from '../../lib/query-keys';


/**
 * The person's open sessions. Another one can be ended here; this one has no button, because
 * ending it is what Sign out does, and a button that signs you out from a list is a surprise.
 */
export function SessionsList() {
  const queries = useQueryClient();
  const sessions = useQuery({ queryKey: queryKeys.sessions, queryFn: async () => (await unwrap(client.GET('/v1/auth/sessions'))).data });
  const end = useMutation({
    mutationFn: (id: string) => unwrap(client.DELETE('/v1/auth/sessions/{id}', { params: { path: { id } } })),
    onSettled: () => queries.invalidateQueries({ queryKey: queryKeys.sessions }),
  });
  return (
    <Stack>
      <SectionHead title="Sessions">Where you are signed in. End a session you do not recognise, then change your password.</SectionHead>
      <ErrorAlert error={end.error} title="The session was not ended" />
      <Loaded query={sessions} empty={(d) => d.length === 0}>
        {(rows) => (
          <ResponsiveTable rows={rows} rowKey={(s) => s.id} minWidth={560}
            rowLabel={(s) => `${deviceText(s.user_agent)}${s.current ? ' (this session)' : ''}`}
            columns={[
              ['Browser', (s) => (
                <Group gap="xs" wrap="nowrap">
                  <Text size="sm" title={s.user_agent ?? undefined}>{deviceText(s.user_agent)}</Text>
                  {s.current && <Badge variant="outline" color="teal.9">This session</Badge>}
                </Group>
              )],
              ['Address', (s) => s.ip ?? 'unknown'],
              ['Signed in', (s) => formatWhen(s.created_at)],
              ['Last seen', (s) => formatWhen(s.last_seen_at)],
              ['Actions', (s) => (s.current ? (
                <Text size="sm" c="gray.8">Sign out ends it</Text>
              ) : (
                <Button size="xs" variant="outline" color="red.9" loading={end.isPending && end.variables === s.id} onClick={() => end.mutate(s.id)}>End session</Button>
              ))],
            ]} />
        )}
      </Loaded>
    </Stack>
  );
}
