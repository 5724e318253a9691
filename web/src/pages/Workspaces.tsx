import { Badge, Stack, Table, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api';
import { Loaded } from './common';

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
          <Table.ScrollContainer minWidth={500}>
            <Table striped>
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Id</Table.Th><Table.Th>Status</Table.Th><Table.Th>Created</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {d.data
                  .filter((w) => `${w.name} ${w.id}`.toLowerCase().includes(search.toLowerCase()))
                  .map((w) => (
                    <Table.Tr key={w.id}>
                      <Table.Td>{w.name}</Table.Td>
                      <Table.Td><code>{w.id}</code></Table.Td>
                      <Table.Td><Badge color={w.status === 'active' ? 'teal.9' : 'gray.8'}>{w.status}</Badge></Table.Td>
                      <Table.Td>{new Date(w.created_at).toLocaleString()}</Table.Td>
                    </Table.Tr>
                  ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Loaded>
    </Stack>
  );
}
