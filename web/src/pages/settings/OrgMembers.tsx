import { Select, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api';
import { ConfirmAction, ConfirmDialog } from '../../components/dialogs';
import { canManageOrg, grantableRoles, ORG_ROLE_LABELS, ORG_ROLES, type OrgRole } from '../../lib/organization';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { queryKeys } from '../../lib/query-keys';
import { useMe } from '../../session';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { Part, type Organization } from './org-parts';

type Member = { user_id: string; email: string; name: string; role: OrgRole };

/** The organization's people and their roles; owners and admins change a role or take someone out, each after a confirmation. */
export function OrgMembers({ org }: { org: Organization }) {
  const me = useMe();
  const queries = useQueryClient();
  const key = queryKeys.organizationMembers(org.id);
  const members = useQuery({
    queryKey: key,
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/organizations/{id}/members', { params: { path: { id: org.id }, query: { cursor, limit: PAGE_LIMIT } } }))),
  });
  const manage = canManageOrg(me, org.id);
  const grantable = new Set(grantableRoles(me, org.id));
  // Seats and this person's own roles may change with a member's: the organization list and me are read again.
  const refresh = () => Promise.all([queries.invalidateQueries({ queryKey: key }), queries.invalidateQueries({ queryKey: queryKeys.organizations }), queries.invalidateQueries({ queryKey: queryKeys.me })]);
  const [asked, setAsked] = useState<{ member: Member; role: OrgRole } | null>(null);
  const change = useMutation({
    mutationFn: ({ member, role }: { member: Member; role: OrgRole }) =>
      unwrap(client.PATCH('/v1/organizations/{id}/members/{user_id}', { params: { path: { id: org.id, user_id: member.user_id } }, body: { role } })),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) => unwrap(client.DELETE('/v1/organizations/{id}/members/{user_id}', { params: { path: { id: org.id, user_id: userId } } })),
    onSuccess: refresh,
  });
  // Nobody changes someone above them, nor gives more than they hold: the other roles are left out.
  const roleData = ORG_ROLES.map((r) => ({ value: r, label: ORG_ROLE_LABELS[r], disabled: !grantable.has(r) }));
  const mayChange = (m: Member) => manage && m.user_id !== me.user.id && grantable.has(m.role);
  return (
    <Part title="Members">
      <Loaded query={members} empty={(d) => d.data.length === 0}>
        {(d) => (
          <ResponsiveTable rows={d.data as Member[]} rowKey={(m) => m.user_id} rowLabel={(m) => m.email} minWidth={640} columns={[
            ['Name', (m) => m.name],
            ['Email', (m) => m.email],
            ['Organization role', (m) => (mayChange(m) ? (
              <Select aria-label={`Organization role of ${m.email}`} data={roleData} value={m.role} allowDeselect={false} maw={160} size="xs" disabled={change.isPending}
                onChange={(v) => v && v !== m.role && setAsked({ member: m, role: v as OrgRole })} />
            ) : (
              <Text size="sm">{ORG_ROLE_LABELS[m.role]}{m.user_id === me.user.id ? ' (you)' : ''}</Text>
            ))],
            ['Actions', (m) => mayChange(m) && (
              <ConfirmAction label="Remove" confirmLabel="Remove" title={`Remove ${m.name}?`} buttonProps={{ variant: 'outline', color: 'red.9', 'aria-label': `Remove ${m.email}` }}
                onConfirm={() => remove.mutateAsync(m.user_id)}>
                {`${m.email} leaves ${org.name} and every one of its workspaces, and is signed out at once. Their seat frees up.`}
              </ConfirmAction>
            )],
          ]} />
        )}
      </Loaded>
      <ConfirmDialog opened={asked !== null} onClose={() => setAsked(null)} color="blue.9" confirmLabel="Change role"
        title={asked ? `Make ${asked.member.name} ${ORG_ROLE_LABELS[asked.role]}?` : ''}
        onConfirm={async () => { if (asked) await change.mutateAsync(asked); }}>
        {asked ? `${asked.member.email} goes from ${ORG_ROLE_LABELS[asked.member.role]} to ${ORG_ROLE_LABELS[asked.role]} in ${org.name} and its workspaces.` : ''}
      </ConfirmDialog>
    </Part>
  );
}
