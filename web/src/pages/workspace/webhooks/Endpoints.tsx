import { Anchor, Badge, Button, Code, Group, Menu, Stack, Text, Tooltip } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../../api';
import { useCanWrite } from '../../../session';
import { relativeTime } from '../../../lib/webhooks';
import { DataTable, Loaded } from '../../common';
import { Deliveries } from './Deliveries';
import { EndpointDialog } from './EndpointDialog';
import { endpointLabel, keys, useEndpoints, type Endpoint } from './model';
import { RateBadge } from './ui';
import { ConfirmDialog, ErrorNote, SecretReveal } from '../../../components/dialogs';

type Pending = { kind: 'rotate' | 'delete'; endpoint: Endpoint } | null;

/** The workspace's endpoints, with their health, and every action on one. */
export function Endpoints({ workspaceId }: { workspaceId: string }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const endpoints = useEndpoints(workspaceId);
  const [editing, setEditing] = useState<{ endpoint: Endpoint | null } | null>(null);
  const [revealed, setRevealed] = useState<{ secret: string; title: string; note: string } | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const [viewing, setViewing] = useState<{ endpoint: Endpoint; testDeliveryId?: string } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const refresh = () => queries.invalidateQueries({ queryKey: keys.all(workspaceId) });

  const run = async (action: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await action();
      await refresh();
    } catch (err) {
      setActionError(err);
    }
  };
  const sendTest = (e: Endpoint) => run(async () => {
    const sent = await unwrap(client.POST('/v1/webhooks/{id}/test', { params: { path: { id: e.id } }, body: {} }));
    setViewing({ endpoint: e, testDeliveryId: sent.delivery_id });
  });
  const setEnabled = (e: Endpoint, enabled: boolean) => run(() => unwrap(client.PATCH('/v1/webhooks/{id}', { params: { path: { id: e.id } }, body: { enabled } })));

  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="gray.8">Gatehouse signs every message (Standard Webhooks) and retries failures with backoff.</Text>
        {canWrite && <Button onClick={() => setEditing({ endpoint: null })}>Add endpoint</Button>}
      </Group>
      <ErrorNote error={actionError} />
      <Loaded query={endpoints} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable minWidth={960} rows={d.data} rowKey={(e) => e.id} columns={[
            ['Name', (e) => <Stack gap={0}><Text fw={500}>{e.name ?? '(unnamed)'}</Text>{e.description && <Text size="xs" c="gray.8">{e.description}</Text>}</Stack>],
            ['URL', (e) => <Text size="sm" style={{ wordBreak: 'break-all' }}>{e.url}</Text>],
            ['Events', (e) => <Group gap={4}>{e.events.map((t) => <Badge key={t} variant="outline" color="gray.8" tt="none">{t}</Badge>)}</Group>],
            ['Enabled', (e) => (e.enabled
              ? <Badge color="teal.9">enabled</Badge>
              : <Tooltip label={e.disabled_reason ?? 'disabled'}><Badge color="gray.8">disabled</Badge></Tooltip>)],
            ['Success', (e) => <RateBadge rate={e.stats.success_rate} />],
            ['Last called', (e) => <Text size="sm" title={e.stats.last_called_at ?? undefined}>{relativeTime(e.stats.last_called_at)}</Text>],
            ['Actions', (e) => (
              <Group gap="xs" wrap="nowrap">
                {canWrite && <Button size="xs" variant="default" onClick={() => sendTest(e)} disabled={!e.enabled}>Send test</Button>}
                <Anchor component="button" type="button" size="sm" onClick={() => setViewing({ endpoint: e })}>Deliveries</Anchor>
                {canWrite && (
                  <Menu position="bottom-end" withinPortal>
                    <Menu.Target><Button size="xs" variant="subtle" color="gray.8" aria-label={`More actions for ${endpointLabel(e)}`}>•••</Button></Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => setEditing({ endpoint: e })}>Edit</Menu.Item>
                      <Menu.Item onClick={() => setEnabled(e, !e.enabled)}>{e.enabled ? 'Disable' : 'Enable'}</Menu.Item>
                      <Menu.Item onClick={() => setPending({ kind: 'rotate', endpoint: e })}>Rotate secret</Menu.Item>
                      <Menu.Divider />
                      <Menu.Item color="red.9" onClick={() => setPending({ kind: 'delete', endpoint: e })}>Delete</Menu.Item>
                    </Menu.Dropdown>
                  </Menu>
                )}
              </Group>
            )],
          ]} />
        )}
      </Loaded>

      <EndpointDialog workspaceId={workspaceId} opened={editing !== null} endpoint={editing?.endpoint ?? null} onClose={() => setEditing(null)}
        onCreated={(secret, e) => setRevealed({ secret, title: 'Endpoint created', note: `${endpointLabel(e)} will receive ${e.events.join(', ')}.` })} />
      <SecretReveal secret={revealed?.secret ?? null} title={revealed?.title ?? ''} label="Signing secret" note={<>{revealed?.note} Receivers use it to verify the <Code>webhook-signature</Code> header.</>} onClose={() => setRevealed(null)} />
      <ConfirmDialog opened={pending?.kind === 'rotate'} title="Rotate the signing secret?" confirmLabel="Rotate secret" color="blue.9" onClose={() => setPending(null)}
        onConfirm={async () => {
          const e = pending!.endpoint;
          const r = await unwrap(client.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id: e.id } }, body: {} }));
          const until = r.previous_secret_expires_at ? new Date(r.previous_secret_expires_at).toLocaleString() : null;
          setRevealed({ secret: r.secret, title: 'New signing secret', note: until ? `Messages carry signatures with both secrets until ${until}; switch the receiver before then.` : 'The old secret no longer signs.' });
        }}>
        A new secret signs {pending ? endpointLabel(pending.endpoint) : ''}'s messages from now on; the old one keeps signing alongside it for a day, so the receiver can switch.
      </ConfirmDialog>
      <ConfirmDialog opened={pending?.kind === 'delete'} title="Delete this endpoint?" confirmLabel="Delete endpoint" onClose={() => setPending(null)}
        onConfirm={async () => {
          await unwrap(client.DELETE('/v1/webhooks/{id}', { params: { path: { id: pending!.endpoint.id } } }));
          await refresh();
        }}>
        {pending ? endpointLabel(pending.endpoint) : ''} stops receiving events, and its deliveries and their attempts are deleted. This cannot be undone.
      </ConfirmDialog>
      <Deliveries workspaceId={workspaceId} endpoint={viewing?.endpoint ?? null} highlight={viewing?.testDeliveryId} onClose={() => { setViewing(null); refresh(); }} />
    </Stack>
  );
}
