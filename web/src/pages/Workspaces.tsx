import { Anchor, Badge, Stack, TextInput, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api';
import { DataTable, Loaded } from './common';

interface Workspace { id: string; name: string; organization_id: string; status: string; test_mode?: boolean; created_at: string }

/** Every workspace this person may see, searchable by name or id. */
export function Workspaces() {
  const [search, setSearch] = useState('');
  const list = useQuery({ queryKey: ['workspaces'], queryFn: () => api<{ data: Workspace[] }>('GET', '/v1/workspaces') });
  return (
    <Stack>
      <Title order={2}>Workspaces</Title>
      <TextInput label="Search" placeholder="name or id" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={360} />
      <Loaded query={list} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data.filter((w) => `${w.name} ${w.id}`.toLowerCase().includes(search.toLowerCase()))} rowKey={(w) => w.id} columns={[
            ['Name', (w) => <Anchor component={Link} to={`/workspaces/${w.id}`}>{w.name}</Anchor>],
            ['Id', (w) => <code>{w.id}</code>],
            ['Status', (w) => <Badge color={w.status === 'active' ? 'teal.9' : 'gray.8'}>{w.status}</Badge>],
            ['Created', (w) => new Date(w.created_at).toLocaleString()],
          ]} />
        )}
      </Loaded>
    </Stack>
  );
}
