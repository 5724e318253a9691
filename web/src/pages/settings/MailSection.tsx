import { Badge, Button, Group, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { client, unwrap } from '../../api';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { queryKeys } from '../../lib/query-keys';
import { DataTable, Loaded } from '../common';
import { SectionHead } from './parts';

const STATUS_COLOR = { queued: 'gray.8', sent: 'teal.9', failed: 'red.9' } as const;

const when = (at: string | null) => (at ? new Date(at).toLocaleString('en') : '—');

/** The email Gatehouse sent or will send (platform admin): the API gives no bodies, so none can show here. */
export function MailSection() {
  const outbox = useQuery({
    queryKey: queryKeys.mailOutbox,
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/mail/outbox', { params: { query: { cursor, limit: PAGE_LIMIT } } }))),
  });
  return (
    <Stack component="section" aria-label="Mail outbox">
      <SectionHead title="Mail">Email to people (password resets, invitations), newest first; a failed one shows the SMTP server's last refusal.</SectionHead>
      <Group>
        <Button variant="default" size="xs" onClick={() => outbox.refetch()} loading={outbox.isFetching}>Refresh</Button>
      </Group>
      <Loaded query={outbox} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data} rowKey={(m) => m.id} minWidth={900} columns={[
            ['Created', (m) => when(m.created_at)],
            ['To', (m) => <Text size="sm" style={{ wordBreak: 'break-all' }}>{m.to}</Text>],
            ['Subject', (m) => m.subject],
            ['Purpose', (m) => m.purpose],
            ['Status', (m) => <Badge variant="outline" color={STATUS_COLOR[m.status]}>{m.status}</Badge>],
            ['Attempts', (m) => m.attempts],
            ['Sent', (m) => when(m.sent_at)],
            ['Last error', (m) => (m.last_error ? <Text size="sm" c="red.9" style={{ wordBreak: 'break-word' }}>{m.last_error}</Text> : '')],
          ]} />
        )}
      </Loaded>
    </Stack>
  );
}
