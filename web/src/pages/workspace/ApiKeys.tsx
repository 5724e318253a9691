import { Badge, Button, Group, Stack, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api';
import { formatRateLimit, formatRemaining, formatWhen, maskedKey, STATUS_COLORS } from '../../lib/apiKeys';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { useCanWrite } from '../../session';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { CreateKeyDialog, RevokeDialog, RotateDialog, type ApiKey } from './KeyDialogs';
import { KeyUsageDialog } from './KeyUsage';
import { SecretReveal } from '../../components/dialogs';
import { queryKeys } from '../../lib/query-keys';

/** The workspace's Gatehouse API keys: issue, rotate, revoke, and how much each is used. */
export function ApiKeysTab({ workspaceId }: { workspaceId: string }) {
  const canWrite = useCanWrite(workspaceId);
  const queries = useQueryClient();
  const keys = useQuery({
    queryKey: queryKeys.apiKeys(workspaceId),
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces/{id}/api-keys', { params: { path: { id: workspaceId }, query: { cursor, limit: PAGE_LIMIT } } }))),
  });
  const [creating, setCreating] = useState(false);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [usageOf, setUsageOf] = useState<ApiKey | null>(null);
  // The one place a new key lives: component state, cleared when its dialog closes.
  const [revealed, setRevealed] = useState<{ key: string; title: string } | null>(null);
  const refresh = () => queries.invalidateQueries({ queryKey: queryKeys.apiKeys(workspaceId) });
  const reveal = (title: string) => (key: string, name: string) => {
    setRevealed({ key, title: `${title} “${name}”` });
    void refresh();
  };

  return (
    <Stack>
      <Group justify="space-between">
        <div>
          <Title order={3}>API keys</Title>
          <Text size="sm" c="gray.8">Keys this workspace's services send as <code>Authorization: Bearer …</code>. Gatehouse stores only their hash.</Text>
        </div>
        {canWrite && <Button onClick={() => setCreating(true)}>Create key</Button>}
      </Group>
      <Loaded query={keys} empty={(d) => d.data.length === 0}>
        {(d) => (
          <ResponsiveTable minWidth={980} rows={d.data} rowKey={(k) => k.id} rowLabel={(k) => k.name} columns={[
            ['Name', (k) => (
              <Stack gap={2}>
                <Text size="sm" fw={500}>{k.name}</Text>
                <Text size="xs" ff="monospace" c="gray.8">{maskedKey(k.start)}</Text>
              </Stack>
            )],
            ['Scopes', (k) => <Group gap={4}>{k.scopes.map((s) => <Badge key={s} variant="outline" color="gray.8" tt="none">{s}</Badge>)}</Group>],
            ['Status', (k) => (
              <Stack gap={2} align="flex-start">
                <Badge color={STATUS_COLORS[k.status]} style={{ minWidth: 'max-content' }}>{k.status}</Badge>
                {k.status === 'rotating' && <Text size="xs" c="gray.8">until {formatWhen(k.revoke_at)}</Text>}
              </Stack>
            )],
            ['Expires', (k) => formatWhen(k.expires_at, 'never')],
            ['Rate limit', (k) => formatRateLimit(k.rate_limit)],
            ['Remaining uses', (k) => formatRemaining(k.remaining)],
            ['Last used', (k) => formatWhen(k.last_used_at)],
            ['Actions', (k) => (
              <Group gap={6} wrap="nowrap">
                <Button size="compact-sm" variant="default" onClick={() => setUsageOf(k)}>Usage</Button>
                {canWrite && k.status === 'active' && <Button size="compact-sm" variant="default" onClick={() => setRotating(k)}>Rotate</Button>}
                {canWrite && (k.status === 'active' || k.status === 'rotating') && (
                  <Button size="compact-sm" variant="outline" color="red.9" onClick={() => setRevoking(k)}>Revoke</Button>
                )}
              </Group>
            )],
          ]} />
        )}
      </Loaded>
      {canWrite && (
        <>
          <CreateKeyDialog workspaceId={workspaceId} opened={creating} onClose={() => setCreating(false)} onCreated={reveal('New key')} />
          <RotateDialog apiKey={rotating} onClose={() => setRotating(null)} onRotated={reveal('New key for')} />
          <RevokeDialog apiKey={revoking} onClose={() => setRevoking(null)} onRevoked={refresh} />
        </>
      )}
      <KeyUsageDialog apiKey={usageOf} onClose={() => setUsageOf(null)} />
      <SecretReveal title={revealed?.title ?? ''} secret={revealed?.key ?? null} label="API key" doneLabel="I have copied it" note="If it is lost, rotate it to get a new one." onClose={() => setRevealed(null)} />
    </Stack>
  );
}
