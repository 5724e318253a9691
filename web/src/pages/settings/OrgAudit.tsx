import { Button, Group, Text } from '@mantine/core';
import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { actorLabel } from '../../lib/audit';
import { queryKeys } from '../../lib/query-keys';
import { formatWhen } from '../../lib/time';
import { useMe } from '../../session';
import { AuditDiffDialog, type AuditEntry } from '../AuditDiff';
import { Loaded } from '../common';
import { ResponsiveTable } from '../ResponsiveTable';
import { Part, type Organization } from './org-parts';

const PAGE = 20;

/** The organization's audit trail (its own entries and its workspaces'), newest first, for its owners and admins. */
export function OrgAudit({ org }: { org: Organization }) {
  const me = useMe();
  const queries = useQueryClient();
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const query = (extra: Record<string, string>) => new URLSearchParams({ organization_id: org.id, ...extra });
  const entries = useInfiniteQuery({
    queryKey: queryKeys.organizationAudit(org.id),
    queryFn: ({ pageParam }) => api<{ data: AuditEntry[]; next_cursor: string | null }>('GET', `/v1/audit?${query({ limit: String(PAGE), ...(pageParam ? { cursor: pageParam } : {}) })}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  // People are named by email where the page knows them: the organization's members.
  const members = queries.getQueryData<{ data: Array<{ user_id: string; email: string }> }>(queryKeys.organizationMembers(org.id))?.data ?? [];
  const emails = new Map(members.map((m) => [m.user_id, m.email]));
  const who = (e: AuditEntry) => actorLabel(e.actor, emails, me.user.id);
  const rows = entries.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <Part title="Audit trail">
      <Group justify="space-between">
        <Text size="sm">What was done in the organization and its workspaces, newest first.</Text>
        <Group gap="xs">
          <Button variant="default" size="xs" onClick={() => entries.refetch()} loading={entries.isRefetching}>Refresh</Button>
          <Button component="a" variant="default" size="xs" href={`/v1/audit?${query({ format: 'csv' })}`}>Export the trail (CSV)</Button>
        </Group>
      </Group>
      <Loaded query={entries} empty={() => rows.length === 0}>
        {() => (
          <>
            <ResponsiveTable minWidth={720} rows={rows} rowKey={(e) => e.id} rowLabel={(e) => `${e.action} ${formatWhen(e.at, '', true)}`} columns={[
              ['When', (e) => formatWhen(e.at, '', true)],
              ['Actor', who],
              ['Action', (e) => <code>{e.action}</code>],
              ['Resource', (e) => (e.resource ? `${e.resource.type} ${e.resource.id ?? ''}` : '–')],
              ['Changes', (e) => <Button size="xs" variant="default" onClick={() => setOpen(e)} aria-label={`Details of ${e.action} at ${formatWhen(e.at, '', true)}`}>Details</Button>],
            ]} />
            {entries.hasNextPage && <Button variant="default" w="fit-content" loading={entries.isFetchingNextPage} onClick={() => entries.fetchNextPage()}>Load more</Button>}
          </>
        )}
      </Loaded>
      <AuditDiffDialog entry={open} actor={open ? who(open) : ''} onClose={() => setOpen(null)} />
    </Part>
  );
}
