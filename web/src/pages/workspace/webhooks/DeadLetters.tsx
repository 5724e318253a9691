import { Button, Group, Select, Stack, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../../api';
import { useCanWrite } from '../../../session';
import { Loaded } from '../../common';
import { DeliveryList } from './DeliveryList';
import { endpointLabel, keys, useEndpoints } from './model';
import { ConfirmDialog } from '../../../components/dialogs';

const SINCE = [{ value: '86400', label: 'Last 24 hours' }, { value: '604800', label: 'Last 7 days' }, { value: '2592000', label: 'Last 30 days' }];

/** Deliveries that used up their retries or were refused: look at why, and send them again. */
export function DeadLetters({ workspaceId }: { workspaceId: string }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const endpoints = useEndpoints(workspaceId);
  const [webhookId, setWebhookId] = useState<string | null>(null);
  const [eventType, setEventType] = useState('');
  const [typed] = useDebouncedValue(eventType.trim(), 300);
  const [since, setSince] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [requeued, setRequeued] = useState<number | null>(null);
  // The window's start is fixed when the filter is picked, so the query key stays stable between refreshes.
  const [sinceIso, setSinceIso] = useState<string | undefined>(undefined);
  const filter = { webhook_id: webhookId ?? undefined, event_type: typed || undefined, since: sinceIso };
  const dead = useQuery({
    queryKey: keys.dead(workspaceId, filter),
    queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/dead-letters', { params: { path: { id: workspaceId }, query: { limit: 100, ...filter } } })),
  });
  const names = new Map((endpoints.data?.data ?? []).map((e) => [e.id, endpointLabel(e)]));
  const chosen = webhookId ? names.get(webhookId) ?? webhookId : null;

  return (
    <Stack>
      <Group align="end" wrap="wrap">
        <Select label="Endpoint" placeholder="Every endpoint" clearable data={[...names].map(([value, label]) => ({ value, label }))} value={webhookId} onChange={(v) => { setWebhookId(v); setRequeued(null); }} w={220} />
        <TextInput label="Event type" placeholder="e.g. lead.replied" value={eventType} onChange={(e) => setEventType(e.currentTarget.value)} w={200} />
        <Select label="Failed since" placeholder="Any time" clearable data={SINCE} value={since}
          onChange={(v) => { setSince(v); setSinceIso(v ? new Date(Date.now() - Number(v) * 1000).toISOString() : undefined); }} w={180} />
        {canWrite && webhookId && (dead.data?.data.length ?? 0) > 0 && (
          <Button variant="default" onClick={() => setConfirming(true)}>Replay all for this endpoint</Button>
        )}
      </Group>
      {requeued !== null && <Text size="sm" role="status">{requeued} dead letter{requeued === 1 ? '' : 's'} queued again.</Text>}
      <Loaded query={dead} empty={(d) => d.data.length === 0}>
        {(d) => <DeliveryList workspaceId={workspaceId} rows={d.data} canWrite={canWrite} endpointName={(id) => names.get(id) ?? id} />}
      </Loaded>
      <ConfirmDialog opened={confirming} title="Send every dead letter again?" confirmLabel="Replay all" color="blue.9" onClose={() => setConfirming(false)}
        onConfirm={async () => {
          const r = await unwrap(client.POST('/v1/webhooks/{id}/dead-letters/retry', { params: { path: { id: webhookId! } } }));
          setRequeued(r.requeued);
          await queries.invalidateQueries({ queryKey: keys.all(workspaceId) });
        }}>
        Every dead letter of {chosen} goes out again now, each with its original webhook-id and a fresh set of retries.
      </ConfirmDialog>
    </Stack>
  );
}
