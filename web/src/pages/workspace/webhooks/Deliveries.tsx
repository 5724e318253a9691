import { Alert, Button, Drawer, Group, Select, Stack, Text } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../../api';
import { useCanWrite } from '../../../session';
import { Loaded } from '../../common';
import { DeliveryList, isFinished } from './DeliveryList';
import { endpointLabel, keys, type Delivery, type Endpoint } from './model';
import { ConfirmDialog } from '../../../components/dialogs';

const STATUSES = ['pending', 'delivering', 'succeeded', 'dead'] as const;
const SINCE = [{ value: '3600', label: 'the last hour' }, { value: '86400', label: 'the last 24 hours' }, { value: '604800', label: 'the last 7 days' }];

/** One endpoint's deliveries, newest first; refreshed while any is still on its way. */
export function Deliveries({ workspaceId, endpoint, highlight, onClose }: { workspaceId: string; endpoint: Endpoint | null; highlight?: string; onClose: () => void }) {
  const phone = useMediaQuery('(max-width: 48em)');
  return (
    <Drawer closeButtonProps={{ 'aria-label': 'Close' }} opened={endpoint !== null} onClose={onClose} position="right" size={phone ? '100%' : 'xl'} title={endpoint ? `Deliveries to ${endpointLabel(endpoint)}` : ''}>
      {endpoint && <DeliveriesBody key={endpoint.id + (highlight ?? '')} workspaceId={workspaceId} endpoint={endpoint} highlight={highlight} />}
    </Drawer>
  );
}

function DeliveriesBody({ workspaceId, endpoint, highlight }: { workspaceId: string; endpoint: Endpoint; highlight?: string }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const [status, setStatus] = useState<Delivery['status'] | null>(null);
  const [since, setSince] = useState<string | null>('3600');
  const [confirming, setConfirming] = useState(false);
  const [requeued, setRequeued] = useState<number | null>(null);
  const deliveries = useQuery({
    queryKey: [...keys.deliveries(workspaceId, endpoint.id), status],
    queryFn: () => unwrap(client.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: endpoint.id }, query: { limit: 50, ...(status ? { status } : {}) } } })),
    // Poll only while something is in flight, so an idle drawer costs nothing.
    refetchInterval: (q) => (q.state.data?.data.some((d) => !isFinished(d)) ? 1500 : false),
  });
  const test = highlight ? deliveries.data?.data.find((d) => d.id === highlight) : undefined;
  return (
    <Stack>
      {highlight && (
        <Alert variant="outline" color={test?.status === 'succeeded' ? 'teal.9' : test?.status === 'dead' ? 'red.9' : 'gray.8'} title="Test message sent" role="status">
          {!test || !isFinished(test)
            ? 'Waiting for the endpoint to answer…'
            : test.status === 'succeeded'
              ? `The endpoint answered ${test.last_status}.`
              : `The endpoint refused it: ${test.last_error ?? test.last_status}.`}
        </Alert>
      )}
      <Group align="end" justify="space-between">
        <Select label="Status" placeholder="Any status" clearable data={[...STATUSES]} value={status} onChange={(v) => setStatus(v as Delivery['status'] | null)} w={180} />
        {canWrite && (
          <Group align="end" gap="xs">
            <Select label="Send again everything since" data={SINCE} value={since} onChange={setSince} allowDeselect={false} w={200} />
            <Button variant="default" onClick={() => setConfirming(true)} disabled={!since}>Replay since</Button>
          </Group>
        )}
      </Group>
      {requeued !== null && <Text size="sm" role="status">{requeued} deliver{requeued === 1 ? 'y' : 'ies'} queued again.</Text>}
      <Loaded query={deliveries} empty={(d) => d.data.length === 0}>
        {(d) => <DeliveryList workspaceId={workspaceId} rows={d.data} canWrite={canWrite} initiallyOpen={highlight} />}
      </Loaded>
      <ConfirmDialog opened={confirming} title="Send these again?" confirmLabel="Replay since" color="blue.9" onClose={() => setConfirming(false)}
        onConfirm={async () => {
          const from = new Date(Date.now() - Number(since) * 1000).toISOString();
          const r = await unwrap(client.POST('/v1/webhooks/{id}/replay', { params: { path: { id: endpoint.id } }, body: { since: from } }));
          setRequeued(r.requeued);
          await queries.invalidateQueries({ queryKey: keys.all(workspaceId) });
        }}>
        Every message {endpointLabel(endpoint)} was sent since {SINCE.find((s) => s.value === since)?.label} goes out again, with its original webhook-id, so the receiver can drop the ones it already has.
      </ConfirmDialog>
    </Stack>
  );
}
