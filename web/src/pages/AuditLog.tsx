import { Alert, Button, Group, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, client, unwrap, type Me } from '../api';
import { actorFilterValue, actorLabel, auditParams, type AuditFilters } from '../lib/audit';
import { AuditDiffDialog, type AuditEntry } from './AuditDiff';
import { formatWhen } from '../lib/time';
import { workspacesQuery } from '../lib/workspaces';
import { fetchAllPages, PAGE_LIMIT } from '../lib/paging';
import { Loaded } from './common';
import { ResponsiveTable } from './ResponsiveTable';
import { queryKeys } from '../lib/query-keys';

const RESOURCE_TYPES = ['api_key', 'credential', 'event_type', 'inbound_event', 'inbound_source', 'organization', 'provider_instance', 'user', 'webhook_endpoint', 'workspace'];
// Roles whose scopes include audit:read: a member or read_only person is refused the trail.
const AUDIT_ROLES = new Set(['admin', 'manager']);

/** Who did what: the platform admin sees every workspace's trail, a workspace admin or manager their workspace's. */
export function AuditLog({ me }: { me: Me }) {
  const admin = me.user.platform_admin;
  const memberships = me.user.memberships;
  const defaultWorkspace = admin ? null : ((memberships.find((m) => AUDIT_ROLES.has(m.role)) ?? memberships[0])?.workspace_id ?? null);
  const [workspace, setWorkspace] = useState<string | null>(defaultWorkspace);
  const [form, setForm] = useState<Omit<AuditFilters, 'workspace_id'>>({ actor: '', action: '', resource_type: '', resource_id: '', from: '', to: '' });
  const [typed] = useDebouncedValue(form, 300);
  const [open, setOpen] = useState<AuditEntry | null>(null);

  const workspaces = useQuery(workspacesQuery);
  const members = useQuery({
    queryKey: queryKeys.members(workspace),
    queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/workspaces/{id}/members', { params: { path: { id: workspace! }, query: { cursor, limit: PAGE_LIMIT } } }))),
    enabled: workspace !== null,
  });
  // The page names people by email where it knows them: you, and the workspace's members.
  const emails = useMemo(() => {
    const m = new Map<string, string>([[me.user.id, me.user.email]]);
    for (const p of members.data?.data ?? []) m.set(p.user_id, p.email);
    return m;
  }, [me.user.id, me.user.email, members.data]);

  const filters: AuditFilters = { ...typed, workspace_id: workspace, actor: actorFilterValue(typed.actor ?? '', emails) };
  const query = auditParams(filters).toString();
  const entries = useInfiniteQuery({
    queryKey: queryKeys.audit(query),
    queryFn: ({ pageParam }) => api<{ data: AuditEntry[]; next_cursor: string | null }>('GET', `/v1/audit?${auditParams(filters, { limit: '100', ...(pageParam ? { cursor: pageParam } : {}) })}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const chain = useQuery({ queryKey: queryKeys.auditVerify, queryFn: () => unwrap(client.GET('/v1/audit/verify')), enabled: admin });

  const names = new Map((workspaces.data?.data ?? []).map((w) => [w.id, w.name]));
  const workspaceChoices = (admin ? [...names.keys()] : memberships.map((m) => m.workspace_id)).map((id) => ({ value: id, label: names.get(id) ?? id }));
  const set = (k: keyof typeof form) => (value: string | null) => setForm((f) => ({ ...f, [k]: value ?? '' }));
  const rows = entries.data?.pages.flatMap((p) => p.data) ?? [];
  const filtered = Object.values(form).some(Boolean);

  return (
    <Stack>
      <Title order={2}>Audit log</Title>
      {chain.data && (
        <Alert variant="outline" color={chain.data.ok ? 'teal.9' : 'red.9'} title={chain.data.ok ? 'Chain verified' : 'Chain broken'}>
          {chain.data.ok ? `${chain.data.entries} entries, each linked to the one before.` : `An entry was changed or removed (first: ${chain.data.first_bad?.id ?? 'unknown'}): see gatehouse audit verify.`}
        </Alert>
      )}
      {chain.isError && <Alert variant="outline" color="red.9" title="Could not check the chain">{(chain.error as Error).message}</Alert>}
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        {(admin || workspaceChoices.length > 1) && (
          <Select label="Workspace" placeholder={admin ? 'All workspaces' : undefined} data={workspaceChoices} value={workspace} onChange={setWorkspace} clearable={admin} allowDeselect={admin} searchable />
        )}
        <TextInput label="Actor" placeholder="email, user or key id" value={form.actor} onChange={(e) => set('actor')(e.currentTarget.value)} />
        <TextInput label="Action" placeholder="e.g. key.revoked or key.*" value={form.action} onChange={(e) => set('action')(e.currentTarget.value)} />
        <Select label="Resource type" placeholder="Any" data={RESOURCE_TYPES} value={form.resource_type || null} onChange={set('resource_type')} clearable searchable />
        <TextInput label="Resource id" placeholder="e.g. key_…" value={form.resource_id} onChange={(e) => set('resource_id')(e.currentTarget.value)} />
        <TextInput type="datetime-local" label="From (UTC)" value={form.from} onChange={(e) => set('from')(e.currentTarget.value)} />
        <TextInput type="datetime-local" label="To (UTC)" value={form.to} onChange={(e) => set('to')(e.currentTarget.value)} />
      </SimpleGrid>
      <Group>
        {/* The same filters as the list, so the file holds what the page shows (all of it, not one page). */}
        <Button component="a" variant="default" href={`/v1/audit?${auditParams(filters, { format: 'csv' })}`}>Export CSV</Button>
        {filtered && <Button variant="subtle" onClick={() => setForm({ actor: '', action: '', resource_type: '', resource_id: '', from: '', to: '' })}>Clear filters</Button>}
      </Group>
      <Loaded query={entries} empty={() => rows.length === 0}>
        {() => (
          <Stack>
            <ResponsiveTable minWidth={860} rows={rows} rowKey={(e) => e.id} rowLabel={(e) => `${e.action} ${formatWhen(e.at, '', true)}`} columns={[
              ['When', (e) => formatWhen(e.at, '', true)],
              ['Actor', (e) => actorLabel(e.actor, emails, me.user.id)],
              ['Action', (e) => <code>{e.action}</code>],
              ['Resource', (e) => (e.resource ? `${e.resource.type} ${e.resource.id ?? ''}` : '–')],
              ['Outcome', (e) => <Text size="sm" fw={500} c={e.outcome === 'success' ? 'teal.9' : 'red.9'}>{e.outcome}</Text>],
              ['Changes', (e) => <Button size="xs" variant="default" onClick={() => setOpen(e)} aria-label={`Details of ${e.action} at ${formatWhen(e.at, '', true)}`}>Details</Button>],
            ]} />
            {entries.hasNextPage && <Button variant="default" w="fit-content" loading={entries.isFetchingNextPage} onClick={() => entries.fetchNextPage()}>Load more</Button>}
          </Stack>
        )}
      </Loaded>
      {!admin && !workspace && <Text size="sm" c="gray.8">You belong to no workspace, so there is no trail to show.</Text>}
      <AuditDiffDialog entry={open} actor={open ? actorLabel(open.actor, emails, me.user.id) : ''} onClose={() => setOpen(null)} />
    </Stack>
  );
}
