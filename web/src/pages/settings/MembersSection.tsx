import { zodResolver } from '@hookform/resolvers/zod';
import { Button, Group, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ROLE_LABELS, ROLES, type Role } from '../../lib/settings';
import { workspacesQuery } from '../../lib/workspaces';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { useMe } from '../../session';
import { DataTable, Loaded } from '../common';
import { ConfirmAction } from '../../components/dialogs';
import { ErrorAlert, SectionHead } from './parts';
import { usersQuery } from './UsersSection';
import { queryKeys } from '../../lib/query-keys';

const roleData = ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] }));
const NewMember = z.object({ user_id: z.string().trim().min(1, 'Choose a person'), role: z.enum(ROLES) });

/** Who is in a workspace and with which role: the platform admin everywhere, a workspace admin in theirs. */
export function MembersSection() {
  const me = useMe();
  const workspaces = useQuery(workspacesQuery);
  const manageable = (workspaces.data?.data ?? []).filter((w) => me.user.platform_admin || me.user.memberships.some((m) => m.workspace_id === w.id && m.role === 'admin'));
  const [picked, setPicked] = useState<string | null>(null);
  const workspaceId = picked ?? manageable[0]?.id ?? null;
  return (
    <Stack>
      <SectionHead title="Members">A person's role in a workspace: Admin (everything, members too), Manager (everything but members), Member (reads, calls providers, sends events), Read only.</SectionHead>
      <Loaded query={workspaces} empty={() => manageable.length === 0}>
        {() => (
          <Stack>
            <Select label="Workspace" data={manageable.map((w) => ({ value: w.id, label: w.name }))} value={workspaceId} onChange={setPicked} allowDeselect={false} searchable maw={400} />
            {workspaceId && <WorkspaceMembers key={workspaceId} workspaceId={workspaceId} />}
          </Stack>
        )}
      </Loaded>
    </Stack>
  );
}

function WorkspaceMembers({ workspaceId }: { workspaceId: string }) {
  const me = useMe();
  const queries = useQueryClient();
  const key = queryKeys.members(workspaceId);
  const path = { params: { path: { id: workspaceId } } };
  const members = useQuery({ queryKey: key, queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces/{id}/members', { params: { path: { id: workspaceId }, query: { cursor, limit: PAGE_LIMIT } } }))) });
  // Only the platform admin can list people; a workspace admin adds someone by their user id.
  const users = useQuery({ ...usersQuery, enabled: me.user.platform_admin });
  const refresh = () => queries.invalidateQueries({ queryKey: queryKeys.organizations }).then(() => queries.invalidateQueries({ queryKey: key }));
  const form = useForm({ resolver: zodResolver(NewMember), defaultValues: { user_id: '', role: 'member' as Role } });
  const add = useMutation({ mutationFn: (body: z.infer<typeof NewMember>) => unwrap(client.POST('/v1/workspaces/{id}/members', { ...path, body })), onSuccess: () => { form.reset(); return refresh(); } });
  const change = useMutation({
    mutationFn: ({ userId, role }: { userId: string; role: Role }) => unwrap(client.PATCH('/v1/workspaces/{id}/members/{user_id}', { params: { path: { id: workspaceId, user_id: userId } }, body: { role } })),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) => unwrap(client.DELETE('/v1/workspaces/{id}/members/{user_id}', { params: { path: { id: workspaceId, user_id: userId } } })),
    onSettled: refresh,
  });
  const present = new Set((members.data?.data ?? []).map((m) => m.user_id));
  const candidates = (users.data?.data ?? []).filter((u) => !present.has(u.id)).map((u) => ({ value: u.id, label: `${u.name} <${u.email}>` }));
  return (
    <Stack>
      <ErrorAlert error={change.error ?? remove.error} />
      <Loaded query={members} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data} rowKey={(m) => m.user_id} minWidth={640} columns={[
            ['Name', (m) => m.name],
            ['Email', (m) => m.email],
            ['Role', (m) => (
              <Select aria-label={`Role of ${m.email}`} data={roleData} value={m.role} allowDeselect={false} maw={160} size="xs" disabled={change.isPending}
                onChange={(v) => v && v !== m.role && change.mutate({ userId: m.user_id, role: v as Role })} />
            )],
            ['', (m) => (
              <ConfirmAction label="Remove" confirmLabel="Remove" title={`Remove ${m.name}?`} buttonProps={{ variant: 'outline', color: 'red.9' }} onConfirm={() => remove.mutateAsync(m.user_id)}>
                {m.email} loses access to this workspace at once. Their seat frees up if they are in no other workspace of the organization.
              </ConfirmAction>
            )],
          ]} />
        )}
      </Loaded>
      <form onSubmit={form.handleSubmit((v) => add.mutate(v))}>
        <Stack maw={640} gap="xs">
          <Text fw={600}>Add a member</Text>
          <Group align="start" grow preventGrowOverflow={false} wrap="wrap">
            {me.user.platform_admin ? (
              <Controller control={form.control} name="user_id" render={({ field, fieldState }) => (
                <Select label="Person" data={candidates} searchable value={field.value || null} onChange={(v) => field.onChange(v ?? '')} error={fieldState.error?.message} nothingFoundMessage="No one else" miw={240} />
              )} />
            ) : (
              <TextInput label="User ID" placeholder="usr_…" {...form.register('user_id')} error={form.formState.errors.user_id?.message} miw={240} />
            )}
            <Controller control={form.control} name="role" render={({ field }) => (
              <Select label="Role" data={roleData} value={field.value} onChange={(v) => v && field.onChange(v)} allowDeselect={false} miw={160} />
            )} />
          </Group>
          <ErrorAlert error={add.error} title="Could not add this person" />
          <Button type="submit" loading={add.isPending} w="fit-content">Add member</Button>
        </Stack>
      </form>
    </Stack>
  );
}
