import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Badge, Button, Code, CopyButton, Group, Modal, MultiSelect, Select, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ConfirmAction } from '../../components/dialogs';
import { grantableRoles, INVITATION_STATUS_LABELS, mailStatusText, ORG_ROLE_LABELS, ORG_ROLES } from '../../lib/organization';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { queryKeys } from '../../lib/query-keys';
import { formatWhen } from '../../lib/time';
import { useMe } from '../../session';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { Part, type Organization } from './org-parts';
import { ErrorAlert } from './parts';

const InviteForm = z.object({
  email: z.string().trim().email('Enter an email address').max(320),
  role: z.enum(ORG_ROLES),
  workspace_ids: z.array(z.string()),
});

// Owners and admins run the whole organization: an invitation for them names no workspaces (the API refuses it).
const runsAll = (role: string) => role === 'owner' || role === 'admin';

/** A sent invitation: the link when the server has no SMTP server to mail it, else where it went. */
type Sent = { email: string; url?: string };

/**
 * Invitations to the organization: the Invite form (email, role, optionally some workspaces), the
 * list with each one's state and its email's, and Resend / Revoke. Without SMTP the server answers
 * with the link itself, shown here once for the inviter to pass on.
 */
export function OrgInvitations({ org }: { org: Organization }) {
  const me = useMe();
  const queries = useQueryClient();
  const key = queryKeys.invitations(org.id);
  const invitations = useQuery({
    queryKey: key,
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/organizations/{id}/invitations', { params: { path: { id: org.id }, query: { cursor, limit: PAGE_LIMIT } } }))),
  });
  const [opened, { open, close }] = useDisclosure(false);
  const [sent, setSent] = useState<Sent | null>(null);
  const refresh = () => queries.invalidateQueries({ queryKey: key });
  const resend = useMutation({
    mutationFn: (id: string) => unwrap(client.POST('/v1/invitations/{id}/resend', { params: { path: { id } } })),
    onSuccess: (inv) => { setSent({ email: inv.email, url: inv.url }); return refresh(); },
  });
  const revoke = useMutation({ mutationFn: (id: string) => unwrap(client.DELETE('/v1/invitations/{id}', { params: { path: { id } } })), onSuccess: refresh });
  return (
    <Part title="Invitations">
      <Group justify="space-between">
        <Text size="sm">New people join by invitation: an email with a link to set up their account (or to accept with the one they have).</Text>
        <Button onClick={() => { setSent(null); open(); }}>Invite</Button>
      </Group>
      {sent && !opened && <SentNote sent={sent} onDone={() => setSent(null)} />}
      <ErrorAlert error={resend.error} title="Not sent again" />
      <Loaded query={invitations} empty={(d) => d.data.length === 0}>
        {(d) => (
          <ResponsiveTable rows={d.data} rowKey={(i) => i.id} rowLabel={(i) => `Invitation to ${i.email}`} minWidth={760} columns={[
            ['Email', (i) => i.email],
            ['Role', (i) => ORG_ROLE_LABELS[i.role] ?? i.role],
            ['Status', (i) => <Badge variant="outline" color={i.status === 'pending' ? 'blue.9' : i.status === 'accepted' ? 'teal.9' : 'gray.8'}>{INVITATION_STATUS_LABELS[i.status] ?? i.status}</Badge>],
            ['Email status', (i) => <Text size="sm" c={i.mail_status === 'failed' ? 'red.9' : undefined}>{mailStatusText(i.mail_status)}</Text>],
            ['Expires', (i) => formatWhen(i.expires_at)],
            ['Actions', (i) => (i.status === 'pending' || i.status === 'expired') && (
              <Group gap="xs" wrap="nowrap">
                <Button size="xs" variant="default" aria-label={`Resend the invitation to ${i.email}`} loading={resend.isPending && resend.variables === i.id} disabled={resend.isPending}
                  onClick={() => resend.mutate(i.id)}>Resend</Button>
                {i.status === 'pending' && (
                  <ConfirmAction label="Revoke" confirmLabel="Revoke" title={`Revoke the invitation to ${i.email}?`} buttonProps={{ variant: 'outline', color: 'red.9', 'aria-label': `Revoke the invitation to ${i.email}` }}
                    onConfirm={() => revoke.mutateAsync(i.id)}>
                    Its link stops working at once. You can invite them again later.
                  </ConfirmAction>
                )}
              </Group>
            )],
          ]} />
        )}
      </Loaded>
      <Modal opened={opened} onClose={close} title={`Invite to ${org.name}`} centered>
        {sent ? (
          <SentNote sent={sent} onDone={() => { setSent(null); close(); }} />
        ) : (
          <InviteFormBody org={org} roles={grantableRoles(me, org.id)} onCancel={close} onSent={(inv) => { setSent(inv); if (!inv.url) close(); void refresh(); }} />
        )}
      </Modal>
    </Part>
  );
}

function InviteFormBody({ org, roles, onCancel, onSent }: { org: Organization; roles: Array<(typeof ORG_ROLES)[number]>; onCancel: () => void; onSent: (sent: Sent) => void }) {
  const queries = useQueryClient();
  // The organization's live workspaces, from the list the Workspaces part already reads.
  const workspaces = queries.getQueryData<{ data: Array<{ id: string; name: string; archived_at: string | null }> }>(queryKeys.organizationWorkspaces(org.id))?.data ?? [];
  const form = useForm({ resolver: zodResolver(InviteForm), defaultValues: { email: '', role: 'member' as const, workspace_ids: [] as string[] } });
  const invite = useMutation({
    mutationFn: (v: z.infer<typeof InviteForm>) => unwrap(client.POST('/v1/organizations/{id}/invitations', {
      params: { path: { id: org.id } }, body: { email: v.email, role: v.role, ...(v.workspace_ids.length && !runsAll(v.role) ? { workspace_ids: v.workspace_ids } : {}) },
    })),
    onSuccess: (inv) => onSent({ email: inv.email, url: inv.url }),
  });
  return (
    <form onSubmit={form.handleSubmit((v) => invite.mutate(v))}>
      <Stack>
        <TextInput label="Email" type="email" {...form.register('email')} error={form.formState.errors.email?.message} data-autofocus />
        <Controller control={form.control} name="role" render={({ field }) => (
          <Select label="Role" data={roles.map((r) => ({ value: r, label: ORG_ROLE_LABELS[r] }))} value={field.value} onChange={(v) => v && field.onChange(v)} allowDeselect={false}
            description="Their role in the organization; its workspaces inherit it." />
        )} />
        {workspaces.length > 0 && !runsAll(form.watch('role')) && (
          <Controller control={form.control} name="workspace_ids" render={({ field }) => (
            <MultiSelect label="Workspaces (optional)" description="Only these workspaces; leave empty for the role in the whole organization." clearable searchable
              data={workspaces.filter((w) => !w.archived_at).map((w) => ({ value: w.id, label: w.name }))} value={field.value} onChange={field.onChange} />
          )} />
        )}
        <ErrorAlert error={invite.error} title="No invitation sent" />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={invite.isPending}>Send invitation</Button>
        </Group>
      </Stack>
    </form>
  );
}

/** After an invitation went out: where to, or (no SMTP server configured) the link for the inviter to pass on. */
function SentNote({ sent, onDone }: { sent: Sent; onDone: () => void }) {
  if (!sent.url) {
    return (
      <Alert variant="outline" color="teal.9" title="Invitation sent" role="status" withCloseButton closeButtonLabel="Dismiss" onClose={onDone}>
        {`An email with the link is on its way to ${sent.email}.`}
      </Alert>
    );
  }
  return (
    <Stack>
      <Alert variant="outline" color="blue.9" title="Send this link yourself">
        {`No email server is configured, so no email was sent. Give this link to ${sent.email}; it works once, until it expires.`}
      </Alert>
      <Text fw={600} id="invitation-link-label">Invitation link</Text>
      <Code block aria-labelledby="invitation-link-label" data-testid="invitation-link" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{sent.url}</Code>
      <Group justify="space-between">
        <CopyButton value={sent.url}>
          {({ copied, copy }) => <Button variant={copied ? 'filled' : 'default'} color={copied ? 'teal.9' : undefined} onClick={copy}>{copied ? 'Copied' : 'Copy link'}</Button>}
        </CopyButton>
        <Button onClick={onDone}>Done</Button>
      </Group>
    </Stack>
  );
}
