import { zodResolver } from '@hookform/resolvers/zod';
import { Badge, Button, Checkbox, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { DataTable, Loaded } from '../common';
import { ErrorAlert, SectionHead } from './parts';
import { queryKeys } from '../../lib/query-keys';

const NewUser = z.object({
  name: z.string().trim().min(1, 'Their name').max(200),
  email: z.string().trim().email('An email address'),
  // Empty: no password yet (they cannot sign in until one is set with `gatehouse admin create-user`).
  password: z.union([z.string().min(12, 'At least 12 characters').max(1024), z.literal('')]),
  platform_admin: z.boolean(),
});

export const usersQuery = { queryKey: queryKeys.users, queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/users', { params: { query: { cursor, limit: PAGE_LIMIT } } }))) };

/** Everyone who can sign in, and a form to add a person (platform admin). */
export function UsersSection() {
  const queries = useQueryClient();
  const users = useQuery(usersQuery);
  const form = useForm({ resolver: zodResolver(NewUser), defaultValues: { name: '', email: '', password: '', platform_admin: false } });
  const create = useMutation({
    mutationFn: ({ password, ...v }: z.infer<typeof NewUser>) => unwrap(client.POST('/v1/users', { body: { ...v, ...(password ? { password } : {}) } })),
    onSuccess: () => { form.reset(); return queries.invalidateQueries({ queryKey: queryKeys.users }); },
  });
  return (
    <Stack>
      <SectionHead title="Users">People who sign in to the portal. What they may do comes from their role in each workspace (Members).</SectionHead>
      <Loaded query={users} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data} rowKey={(u) => u.id} minWidth={340} columns={[
            ['Name', (u) => u.name],
            ['Email', (u) => u.email],
            ['Platform admin', (u) => (u.platform_admin ? <Badge variant="outline" color="violet.9">platform admin</Badge> : '')],
            ['Two-factor', (u) => (u.mfa_enabled ? <Badge variant="outline" color="teal.9">on</Badge> : <Badge variant="outline" color="gray.8">off</Badge>)],
          ]} />
        )}
      </Loaded>
      <form onSubmit={form.handleSubmit((v) => create.mutate(v))}>
        <Stack maw={640} gap="xs">
          <Text fw={600}>New user</Text>
          <TextInput label="Full name" {...form.register('name')} error={form.formState.errors.name?.message} />
          <TextInput label="Email address" type="email" {...form.register('email')} error={form.formState.errors.email?.message} />
          <PasswordInput label="Initial password (12 characters or more)" autoComplete="new-password" {...form.register('password')} error={form.formState.errors.password?.message} />
          <Checkbox label="Platform admin (every workspace, every setting)" {...form.register('platform_admin')} />
          <ErrorAlert error={create.error} />
          <Button type="submit" loading={create.isPending} w="fit-content">Create user</Button>
        </Stack>
      </form>
    </Stack>
  );
}
