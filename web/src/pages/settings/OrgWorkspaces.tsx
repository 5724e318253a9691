import { zodResolver } from '@hookform/resolvers/zod';
import { Anchor, Badge, Button, Group, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useForm } from 'react-hook-form';
import { Link } from 'react-router';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ConfirmAction } from '../../components/dialogs';
import { canManageOrg, workspacesText } from '../../lib/organization';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { queryKeys } from '../../lib/query-keys';
import { useMe } from '../../session';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { Part, type Organization } from './org-parts';
import { ErrorAlert } from './parts';

const NewWorkspace = z.object({ name: z.string().trim().min(1, 'Give it a name').max(200) });

/** The organization's workspaces, live and archived; owners and admins create, archive and restore them within the plan's workspace limit. */
export function OrgWorkspaces({ org }: { org: Organization }) {
  const me = useMe();
  const queries = useQueryClient();
  const manage = canManageOrg(me, org.id);
  const workspaces = useQuery({
    queryKey: queryKeys.organizationWorkspaces(org.id),
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces', { params: { query: { organization_id: org.id, cursor, limit: PAGE_LIMIT } } }))),
  });
  // A workspace made or archived changes every list of workspaces, and this person's inherited memberships (me).
  const refresh = () => Promise.all([queries.invalidateQueries({ queryKey: queryKeys.workspaces }), queries.invalidateQueries({ queryKey: queryKeys.me })]);
  const form = useForm({ resolver: zodResolver(NewWorkspace), defaultValues: { name: '' } });
  const create = useMutation({
    mutationFn: (body: z.infer<typeof NewWorkspace>) => unwrap(client.POST('/v1/organizations/{id}/workspaces', { params: { path: { id: org.id } }, body })),
    onSuccess: () => { form.reset(); return refresh(); },
  });
  const archive = useMutation({
    mutationFn: ({ id, archived }: { id: string; archived: boolean }) =>
      archived ? unwrap(client.POST('/v1/workspaces/{id}/archive', { params: { path: { id } } })) : unwrap(client.POST('/v1/workspaces/{id}/restore', { params: { path: { id } } })),
    onSettled: refresh,
  });
  const rows = workspaces.data?.data ?? [];
  const live = rows.filter((w) => !w.archived_at).length;
  return (
    <Part title="Workspaces">
      {workspaces.data && <Text size="sm">{workspacesText(live, org.workspace_limit)}{org.workspace_limit !== null ? ' (archived ones do not count)' : ''}</Text>}
      <ErrorAlert error={archive.error} title="Not changed" />
      <Loaded query={workspaces} empty={(d) => d.data.length === 0}>
        {(d) => (
          <ResponsiveTable rows={d.data} rowKey={(w) => w.id} rowLabel={(w) => w.name} minWidth={560} columns={[
            ['Name', (w) => <Anchor component={Link} to={`/workspaces/${w.id}`}>{w.name}</Anchor>],
            ['Status', (w) => (w.archived_at ? <Badge color="gray.8" variant="outline">Archived</Badge> : <Badge color={w.status === 'active' ? 'teal.9' : 'gray.8'} variant="outline">{w.status === 'active' ? 'Active' : 'Inactive'}</Badge>)],
            ['Actions', (w) => manage && (w.archived_at ? (
              <Button size="xs" variant="default" aria-label={`Restore ${w.name}`} loading={archive.isPending && archive.variables.id === w.id} disabled={archive.isPending}
                onClick={() => archive.mutate({ id: w.id, archived: false })}>Restore</Button>
            ) : (
              <ConfirmAction label="Archive" confirmLabel="Archive" title={`Archive ${w.name}?`} buttonProps={{ variant: 'outline', color: 'red.9', 'aria-label': `Archive ${w.name}`, disabled: archive.isPending }}
                onConfirm={() => archive.mutateAsync({ id: w.id, archived: true })}>
                {`${w.name} becomes inactive and is kept with everything in it. It no longer counts against the plan's workspace limit; restore it whenever there is room.`}
              </ConfirmAction>
            ))],
          ]} />
        )}
      </Loaded>
      {manage && (
        <form onSubmit={form.handleSubmit((v) => create.mutate(v))}>
          <Stack gap="xs" maw={640}>
            <Group align="start" gap="xs">
              <TextInput label="New workspace name" {...form.register('name')} error={form.formState.errors.name?.message} miw={280} />
              <Button type="submit" mt={25} loading={create.isPending}>Create workspace</Button>
            </Group>
            <ErrorAlert error={create.error} title="No workspace created" />
          </Stack>
        </form>
      )}
    </Part>
  );
}
