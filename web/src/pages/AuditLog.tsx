import { Alert, Badge, Button, Group, Select, Stack, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type Me } from '../api';
import { DataTable, Loaded } from './common';

interface Entry { id: string; at: string; workspace_id: string | null; actor: { type: string; id: string | null; ip: string | null }; action: string; outcome: string; resource: { type: string; id: string | null } | null }

/** Who did what: the platform admin sees every workspace's trail, anyone else one of theirs. */
export function AuditLog({ me }: { me: Me }) {
  const workspaces = me.user.memberships.map((m) => m.workspace_id);
  const [workspace, setWorkspace] = useState<string | null>(me.user.platform_admin ? null : (workspaces[0] ?? null));
  const [action, setAction] = useState('');
  const params = new URLSearchParams({ limit: '100', ...(workspace ? { workspace_id: workspace } : {}), ...(action ? { action } : {}) });
  const entries = useQuery({ queryKey: ['audit', params.toString()], queryFn: () => api<{ data: Entry[] }>('GET', `/v1/audit?${params}`) });
  const chain = useQuery({ queryKey: ['audit-verify'], queryFn: () => api<{ ok: boolean; entries: number }>('GET', '/v1/audit/verify'), enabled: me.user.platform_admin });
  return (
    <Stack>
      <Title order={2}>Audit log</Title>
      {chain.data && (
        <Alert variant="outline" color={chain.data.ok ? 'teal.9' : 'red.9'} title={chain.data.ok ? 'Chain verified' : 'Chain broken'}>
          {chain.data.ok ? `${chain.data.entries} entries, each linked to the one before.` : 'An entry was changed or removed: see gatehouse audit verify.'}
        </Alert>
      )}
      <Group align="end">
        {!me.user.platform_admin && workspaces.length > 1 && (
          <Select label="Workspace" data={workspaces} value={workspace} onChange={setWorkspace} />
        )}
        <TextInput label="Action" placeholder="e.g. key.revoked" value={action} onChange={(e) => setAction(e.currentTarget.value)} />
        <Button component="a" variant="default" href={`/v1/audit?${new URLSearchParams({ ...Object.fromEntries(params), format: 'csv' })}`}>Export CSV</Button>
      </Group>
      <Loaded query={entries} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable minWidth={700} rows={d.data} rowKey={(e) => e.id} columns={[
            ['When', (e) => new Date(e.at).toLocaleString()],
            ['Actor', (e) => `${e.actor.type} ${e.actor.id ?? ''}`],
            ['Action', (e) => <code>{e.action}</code>],
            ['Resource', (e) => (e.resource ? `${e.resource.type} ${e.resource.id ?? ''}` : '–')],
            ['Outcome', (e) => <Badge color={e.outcome === 'success' ? 'teal.9' : 'red.9'}>{e.outcome}</Badge>],
          ]} />
        )}
      </Loaded>
    </Stack>
  );
}
