import { Alert, Button, Group, Stack, Text } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { client, unwrap } from '../../api';
import { WARNING_COLOR } from '../../lib/colors';
import { describeSync } from '../../lib/credentials';

interface Props {
  workspaceId: string;
  /** Minting uses the instance's super-admin token, so the API allows it to platform admins only. */
  canGenerate: boolean;
  body: { instance?: string; provider_workspace_id?: string };
  onChanged: () => unknown;
}

/** Email Bison's extras: mint the workspace's own token, and pull its sender emails with it. */
export function EmailBisonActions({ workspaceId, canGenerate, body, onChanged }: Props) {
  const path = { params: { path: { id: workspaceId } } };
  const generate = useMutation({ mutationFn: () => unwrap(client.POST('/v1/workspaces/{id}/credentials/emailbison/generate', { ...path, body })), onSuccess: onChanged });
  const sync = useMutation({ mutationFn: () => unwrap(client.POST('/v1/workspaces/{id}/sync/emailbison/sender-emails', path)), onSettled: onChanged });
  const error = generate.error ?? sync.error;
  return (
    <Stack gap="xs">
      <Group>
        {canGenerate && <Button variant="default" onClick={() => generate.mutate()} loading={generate.isPending}>Generate token</Button>}
        <Button variant="default" onClick={() => sync.mutate()} loading={sync.isPending}>Sync sender emails</Button>
      </Group>
      {canGenerate && <Text size="xs" c="gray.8">Generate token mints a new api-user token for the Email Bison workspace id with the instance's admin credential and stores it here.</Text>}
      {generate.data && <Alert variant="outline" color="teal.9" title="Token generated">A new token is stored: {generate.data.secrets.api_key?.mask}</Alert>}
      {sync.data && (
        <Alert variant="outline" color={sync.data.status === 'ok' ? 'teal.9' : WARNING_COLOR} title={sync.data.status === 'ok' ? 'Sender emails synced' : 'Synced, but the counts disagree'}>
          {describeSync(sync.data)}
        </Alert>
      )}
      {error && <Alert variant="outline" color="red.9" title="That did not work">{error.message}</Alert>}
    </Stack>
  );
}
