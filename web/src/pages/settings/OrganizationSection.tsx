import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Group, Select, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap, type Me } from '../../api';
import { canManageOrg, ORG_ROLE_LABELS, orgRoleOf } from '../../lib/organization';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { queryKeys } from '../../lib/query-keys';
import { seatsText } from '../../lib/settings';
import { useMe } from '../../session';
import { Loaded } from '../common';
import { OrgAudit } from './OrgAudit';
import { OrgInvitations } from './OrgInvitations';
import { OrgMembers } from './OrgMembers';
import { OrgWorkspaces } from './OrgWorkspaces';
import { Part, type Organization } from './org-parts';
import { SsoSettings } from './SsoSettings';
import { ErrorAlert, SectionHead } from './parts';

const NameForm = z.object({ name: z.string().trim().min(1, 'Give it a name').max(200) });

/** Whether this person has the Organization section: an organization role, or the platform admin. */
export const hasOrganizationSection = (me: Me) => me.user.platform_admin || (me.user.organizations ?? []).length > 0;

/**
 * An organization run by its own people: members and their roles, invitations, workspaces, the
 * two-factor policy and the audit trail. The platform admin picks any organization; anyone else
 * sees those they hold a role in (members and read-only people see, owners and admins change).
 */
export function OrganizationSection() {
  const me = useMe();
  const orgs = useQuery({ queryKey: queryKeys.organizations, queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/organizations', { params: { query: { cursor, limit: PAGE_LIMIT } } }))) });
  // A workspace membership alone shows an organization in the list; only an organization role gives this section.
  const mine = (orgs.data?.data ?? []).filter((o) => me.user.platform_admin || orgRoleOf(me, o.id) !== null);
  const [picked, setPicked] = useState<string | null>(null);
  const org = mine.find((o) => o.id === picked) ?? mine[0];
  return (
    <Stack>
      <SectionHead title="Organization">Its people and their organization roles (its workspaces inherit them), invitations, workspaces, and whether two-factor sign-in is required.</SectionHead>
      <Loaded query={orgs} empty={() => mine.length === 0}>
        {() => (
          <Stack>
            {mine.length > 1 && (
              <Select label="Organization" data={mine.map((o) => ({ value: o.id, label: o.name }))} value={org?.id ?? null} onChange={setPicked} allowDeselect={false} searchable maw={400} />
            )}
            {org && <OrganizationPanel key={org.id} org={org as Organization} />}
          </Stack>
        )}
      </Loaded>
    </Stack>
  );
}

function OrganizationPanel({ org }: { org: Organization }) {
  const me = useMe();
  const manage = canManageOrg(me, org.id);
  const role = orgRoleOf(me, org.id);
  return (
    <Stack>
      <Text size="sm">
        <strong>{org.name}</strong> · {seatsText(org.seats_used, org.seat_limit)}
        {role ? ` · your role: ${ORG_ROLE_LABELS[role]}` : me.user.platform_admin ? ' · you: platform admin' : ''}
      </Text>
      {manage ? <OrgProfile org={org} /> : <Alert variant="outline" color="gray.8">Your role lets you see this organization; its owners and admins change it.</Alert>}
      <OrgMembers org={org} />
      {manage && <OrgInvitations org={org} />}
      <OrgWorkspaces org={org} />
      {manage && <SsoSettings organizationId={org.id} />}
      {manage && <OrgAudit org={org} />}
    </Stack>
  );
}

/** Its name and whether its members must use two-factor sign-in (owners and admins; plan and seats stay the platform admin's). */
function OrgProfile({ org }: { org: Organization }) {
  const queries = useQueryClient();
  const form = useForm({ resolver: zodResolver(NameForm), values: { name: org.name } });
  const refresh = () => queries.invalidateQueries({ queryKey: queryKeys.organizations });
  const patch = (body: { name?: string; mfa_required?: boolean }) => unwrap(client.PATCH('/v1/organizations/{id}', { params: { path: { id: org.id } }, body }));
  const rename = useMutation({ mutationFn: (v: z.infer<typeof NameForm>) => patch({ name: v.name }), onSuccess: refresh });
  // Turning it on sends members without two-factor sign-in to set it up at their next page; the me query shows that to this person too.
  const mfa = useMutation({ mutationFn: (on: boolean) => patch({ mfa_required: on }), onSettled: () => refresh().then(() => queries.invalidateQueries({ queryKey: queryKeys.me })) });
  return (
    <Part title="Profile">
      <form onSubmit={form.handleSubmit((v) => rename.mutate(v))}>
        <Group align="end" gap="xs">
          <TextInput label="Organization name" {...form.register('name')} error={form.formState.errors.name?.message} miw={280} />
          <Button type="submit" variant="default" loading={rename.isPending} disabled={!form.formState.isDirty}>Rename</Button>
        </Group>
      </form>
      <ErrorAlert error={rename.error} title="Not renamed" />
      <Switch label="Require two-factor sign-in" description="Members without it are asked to set it up before anything else."
        checked={mfa.isPending ? mfa.variables : org.mfa_required} disabled={mfa.isPending} onChange={(e) => mfa.mutate(e.currentTarget.checked)} />
      <ErrorAlert error={mfa.error} title="Two-factor policy not changed" />
    </Part>
  );
}
