import { Accordion, Badge, Button, Code, Group, Loader, Stack, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../../api';
import { excerpt, formatLatency, relativeTime } from '../../../lib/webhooks';
import { DataTable } from '../../common';
import { keys, type Attempt, type Delivery } from './model';
import { ErrorNote } from '../../../components/dialogs';
import { WARNING_COLOR } from '../../../lib/colors';

const STATUS_COLORS: Record<Delivery['status'], string> = { pending: 'gray.8', delivering: 'blue.9', succeeded: 'teal.9', dead: 'red.9' };
const OUTCOME_COLORS: Record<Attempt['outcome'], string> = { succeeded: 'teal.9', retrying: WARNING_COLOR, failed: 'red.9' };

export const isFinished = (d: Delivery) => d.status === 'succeeded' || d.status === 'dead';

/**
 * Deliveries as an expandable list: a summary line each, every attempt when opened, and Replay
 * for a finished one (the same webhook-id again, with a fresh set of retries).
 */
export function DeliveryList({ workspaceId, rows, canWrite, endpointName, initiallyOpen }: {
  workspaceId: string; rows: Delivery[]; canWrite: boolean; endpointName?: (webhookId: string) => string; initiallyOpen?: string;
}) {
  const queries = useQueryClient();
  const [open, setOpen] = useState<string[]>(initiallyOpen ? [initiallyOpen] : []);
  const [replayed, setReplayed] = useState<Record<string, 'busy' | 'done'>>({});
  const [error, setError] = useState<unknown>(null);
  const replay = async (d: Delivery) => {
    setError(null);
    setReplayed((r) => ({ ...r, [d.id]: 'busy' }));
    try {
      await unwrap(client.POST('/v1/deliveries/{id}/replay', { params: { path: { id: d.id } } }));
      setReplayed((r) => ({ ...r, [d.id]: 'done' }));
      await queries.invalidateQueries({ queryKey: keys.all(workspaceId) });
    } catch (err) {
      setReplayed(({ [d.id]: _, ...r }) => r);
      setError(err);
    }
  };
  return (
    <Stack gap="xs">
      <ErrorNote error={error} title="Replay failed" />
      <Accordion multiple value={open} onChange={setOpen} variant="separated">
        {rows.map((d) => (
          <Accordion.Item key={d.id} value={d.id}>
            <Group wrap="nowrap" gap={0} pr="sm">
              <Accordion.Control style={{ flex: 1, minWidth: 0 }}>
                <Group gap="sm" wrap="wrap">
                  <Badge color={STATUS_COLORS[d.status]}>{d.status}</Badge>
                  <Text size="sm" fw={500}>{d.event_type ?? d.event_id}</Text>
                  {endpointName && <Text size="sm" c="gray.8">→ {endpointName(d.webhook_id)}</Text>}
                  <Text size="sm" c="gray.8">{d.attempts}/{d.max_attempts} attempts{d.last_status !== null ? ` · last ${d.last_status}` : ''}</Text>
                  <Text size="sm" c="gray.8" title={d.created_at}>{relativeTime(d.created_at)}</Text>
                  {d.next_attempt_at && !isFinished(d) && <Text size="sm" c="gray.8">next {relativeTime(d.next_attempt_at)}</Text>}
                </Group>
              </Accordion.Control>
              {canWrite && isFinished(d) && (
                <Button size="xs" variant="default" style={{ flexShrink: 0 }} loading={replayed[d.id] === 'busy'} disabled={replayed[d.id] === 'done'} onClick={() => replay(d)}>
                  {replayed[d.id] === 'done' ? 'Replayed' : 'Replay'}
                </Button>
              )}
            </Group>
            <Accordion.Panel>{open.includes(d.id) && <Attempts workspaceId={workspaceId} delivery={d} />}</Accordion.Panel>
          </Accordion.Item>
        ))}
      </Accordion>
    </Stack>
  );
}

function Attempts({ workspaceId, delivery }: { workspaceId: string; delivery: Delivery }) {
  const detail = useQuery({
    queryKey: [...keys.delivery(workspaceId, delivery.id), delivery.attempts, delivery.status],
    queryFn: () => unwrap(client.GET('/v1/deliveries/{id}', { params: { path: { id: delivery.id } } })),
  });
  if (detail.isPending) return <Loader size="sm" role="status" aria-label="Loading attempts" />;
  if (detail.isError) return <ErrorNote error={detail.error} title="Could not load the attempts" />;
  const d = detail.data;
  return (
    <Stack gap="xs">
      <Text size="xs" c="gray.8">webhook-id <Code>{d.event_id}</Code>{d.last_error ? ` · ${d.last_error}` : ''}</Text>
      {d.attempt_log.length === 0
        ? <Text size="sm">No attempt yet{d.next_attempt_at ? `; the first is due ${relativeTime(d.next_attempt_at)}` : ''}.</Text>
        : (
          <DataTable minWidth={720} rows={d.attempt_log} rowKey={(a) => a.id} columns={[
            ['#', (a) => a.attempt],
            ['Outcome', (a) => <Badge color={OUTCOME_COLORS[a.outcome]}>{a.outcome}</Badge>],
            ['Status', (a) => (a.response_status === null ? '–' : <Code>{a.response_status}</Code>)],
            ['Latency', (a) => formatLatency(a.duration_ms)],
            ['Response', (a) => <Text size="xs" ff="monospace" title={a.response_body ?? undefined}>{excerpt(a.response_body) || '–'}</Text>],
            ['Error', (a) => <Text size="xs">{a.error ?? '–'}</Text>],
            ['Next attempt', (a) => (a.next_attempt_at ? relativeTime(a.next_attempt_at) : '–')],
            ['At', (a) => <Text size="xs" title={a.created_at}>{new Date(a.created_at).toLocaleString()}</Text>],
          ]} />
        )}
    </Stack>
  );
}
