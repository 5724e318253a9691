import { Alert, Badge, Button, Code, CopyButton, Group, Stack, Text, Tooltip } from '@mantine/core';
import { useMutation, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { client, unwrap } from '../../api';
import { timeAgo } from '../../lib/fleet';
import { kindOf } from '../../lib/inbound';
import { useCanWrite } from '../../session';
import { DataTable, Loaded } from '../common';
import { RotateSecretButton } from './InboundRotate';
import type { InboundSource } from './Inbound';
import { ConfirmAction, ErrorNote } from '../../components/dialogs';
import { WARNING_COLOR } from '../../lib/colors';
import { queryKeys } from '../../lib/query-keys';

// Badges keep their whole word: a cramped table cell would otherwise cut "enabled" to "EN…".
const BADGE = { flexShrink: 0, overflow: 'visible' } as const;

/** The sources' table: where each receives, whether it is signed, when it last heard from its provider. */
export function SourcesTable({ workspaceId, sources }: { workspaceId: string; sources: UseQueryResult<InboundSource[]> }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const refresh = () => queries.invalidateQueries({ queryKey: queryKeys.inboundSources(workspaceId) });
  const enable = useMutation({
    mutationFn: (s: InboundSource) => unwrap(client.PATCH('/v1/inbound-sources/{id}', { params: { path: { id: s.id } }, body: { enabled: true } })),
    onSuccess: refresh,
  });
  const disable = (s: InboundSource) => unwrap(client.PATCH('/v1/inbound-sources/{id}', { params: { path: { id: s.id } }, body: { enabled: false } })).then(refresh);
  const remove = (s: InboundSource) => unwrap(client.DELETE('/v1/inbound-sources/{id}', { params: { path: { id: s.id } } })).then(() => {
    void queries.invalidateQueries({ queryKey: queryKeys.inboundEvents(workspaceId) });
    return refresh();
  });

  const columns: Array<[string, (s: InboundSource) => React.ReactNode]> = [
    ['Source', (s) => (
      <Stack gap={0}>
        <Text fw={600} size="sm">{s.name}</Text>
        <Text size="xs" c="gray.8">{kindOf(s.provider)?.label ?? s.provider}</Text>
      </Stack>
    )],
    ['Receiving URL', (s) => (
      <Group gap={6} wrap="nowrap">
        <Code title={s.url} style={{ whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis', maxWidth: 260, display: 'inline-block' }}>{s.url}</Code>
        <CopyButton value={s.url}>{({ copied, copy }) => <Button size="compact-xs" variant="default" onClick={copy} aria-label={`Copy the receiving URL of ${s.name}`}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
      </Group>
    )],
    ['State', (s) => (
      <Group gap={4}>
        {s.signed
          ? <Badge color="teal.9" variant="outline" style={BADGE}>signed</Badge>
          : <Tooltip label="The provider signs nothing: the URL (and a token, if set) is all that authenticates it"><Badge color={WARNING_COLOR} variant="outline" tabIndex={0} style={BADGE}>unsigned</Badge></Tooltip>}
        <Badge color={s.enabled ? 'teal.9' : 'gray.8'} style={BADGE}>{s.enabled ? 'enabled' : 'disabled'}</Badge>
      </Group>
    )],
    ['Last received', (s) => <Text size="sm" title={s.last_received_at ?? undefined} style={{ whiteSpace: 'nowrap' }}>{timeAgo(s.last_received_at)}</Text>],
    ['Failed checks (24 h)', (s) => <Badge color={s.verification_failures_24h > 0 ? 'red.9' : 'gray.8'} variant={s.verification_failures_24h > 0 ? 'filled' : 'outline'} aria-label={`${s.verification_failures_24h} verification failures`} title="Requests refused because their signature or token did not verify">{s.verification_failures_24h}</Badge>],
  ];
  if (canWrite) {
    columns.push(['Actions', (s) => (
      <Group gap={6} wrap="nowrap">
        <RotateSecretButton source={s} onDone={refresh} />
        {s.enabled ? (
          <ConfirmAction label="Disable" title={`Disable ${s.name}?`} confirmLabel="Disable" onConfirm={() => disable(s)}>
            Its receiving URL will refuse every request until you enable it again; the provider may retry or give up.
          </ConfirmAction>
        ) : (
          <Button size="xs" variant="default" loading={enable.isPending && enable.variables?.id === s.id} onClick={() => enable.mutate(s)}>Enable</Button>
        )}
        <ConfirmAction label="Delete" title={`Delete ${s.name}?`} confirmLabel="Delete source" onConfirm={() => remove(s)}>
          The source and every event it received are deleted; its URL answers 404 from then on. This cannot be undone.
        </ConfirmAction>
      </Group>
    )]);
  }

  return (
    <>
      {enable.isError && <ErrorNote error={enable.error} />}
      <Loaded query={sources}>
        {(rows) => rows.length === 0
          ? <Alert variant="outline" color="gray.9" title="No inbound sources yet">Add a source to get a receiving URL to give a provider (Twilio, WhatsApp, Standard Webhooks senders…).</Alert>
          : <DataTable rows={rows} rowKey={(s) => s.id} columns={columns} minWidth={980} />}
      </Loaded>
    </>
  );
}
