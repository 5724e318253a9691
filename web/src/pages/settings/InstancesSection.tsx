import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Badge, Button, Group, Modal, PasswordInput, Select, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { instancesQuery } from '../../lib/instances';
import { client, unwrap } from '../../api';
import { DataTable, Loaded } from '../common';
import { ErrorAlert, SectionHead } from './parts';
import { queryKeys } from '../../lib/query-keys';

const NewInstance = z.object({
  provider: z.string().min(1, 'Choose a provider'),
  name: z.string().trim().min(1, 'Give it a name').max(200),
  base_url: z.string().trim().url('A full URL, e.g. https://send.agency.example/api'),
});
const AdminKey = z.object({ api_key: z.string().min(8, 'At least 8 characters') });

type Instance = { id: string; name: string; provider: string; base_url: string; admin_credential: { set: boolean; mask?: string } };

/** Self-hosted provider deployments and their instance-admin credential (platform admin). */
export function InstancesSection() {
  const queries = useQueryClient();
  const instances = useQuery(instancesQuery);
  const providers = useQuery({ queryKey: queryKeys.providers, queryFn: () => unwrap(client.GET('/v1/providers')) });
  const choices = (providers.data?.data ?? []).filter((p) => p.uses_instance).map((p) => ({ value: p.id, label: p.name }));
  const form = useForm({ resolver: zodResolver(NewInstance), defaultValues: { provider: '', name: '', base_url: '' } });
  const create = useMutation({
    mutationFn: (body: z.infer<typeof NewInstance>) => unwrap(client.POST('/v1/instances', { body })),
    onSuccess: () => { form.reset(); return queries.invalidateQueries({ queryKey: queryKeys.instances }); },
  });
  return (
    <Stack>
      <SectionHead title="Provider instances">Deployments of a self-hosted provider (two agencies' Email Bison, say), each with its base URL and an admin credential used only for admin tasks.</SectionHead>
      <Loaded query={instances} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data as Instance[]} rowKey={(i) => i.id} minWidth={700} columns={[
            ['Name', (i) => i.name],
            ['Provider', (i) => i.provider],
            ['Base URL', (i) => <Text size="sm" style={{ wordBreak: 'break-all' }}>{i.base_url}</Text>],
            ['Admin credential', (i) => i.admin_credential.set ? <Badge variant="outline" color="teal.9">{i.admin_credential.mask}</Badge> : <Badge variant="outline" color="gray.8">not set</Badge>],
            ['', (i) => <AdminCredentialButton instance={i} />],
          ]} />
        )}
      </Loaded>
      <form onSubmit={form.handleSubmit((v) => create.mutate(v))}>
        <Stack maw={640} gap="xs">
          <Text fw={600}>New instance</Text>
          <Controller control={form.control} name="provider" render={({ field, fieldState }) => (
            <Select label="Provider" data={choices} value={field.value || null} onChange={(v) => field.onChange(v ?? '')} error={fieldState.error?.message} />
          )} />
          <TextInput label="Instance name" {...form.register('name')} error={form.formState.errors.name?.message} />
          <TextInput label="Base URL" placeholder="https://send.agency.example/api" {...form.register('base_url')} error={form.formState.errors.base_url?.message} />
          <ErrorAlert error={create.error} />
          <Button type="submit" loading={create.isPending} w="fit-content">Create instance</Button>
        </Stack>
      </form>
    </Stack>
  );
}

/** The key goes in once and is never shown again: the field starts empty and the answer holds only the mask. */
function AdminCredentialButton({ instance }: { instance: Instance }) {
  const queries = useQueryClient();
  const [opened, { open, close }] = useDisclosure(false);
  const form = useForm({ resolver: zodResolver(AdminKey), defaultValues: { api_key: '' } });
  const save = useMutation({
    mutationFn: (body: z.infer<typeof AdminKey>) => unwrap(client.PUT('/v1/instances/{id}/admin-credential', { params: { path: { id: instance.id } }, body })),
    onSuccess: () => { form.reset({ api_key: '' }); close(); return queries.invalidateQueries({ queryKey: queryKeys.instances }); },
  });
  const action = instance.admin_credential.set ? 'Replace admin credential' : 'Set admin credential';
  const dismiss = () => { form.reset({ api_key: '' }); save.reset(); close(); };
  return (
    <>
      <Button size="xs" variant="default" onClick={open} aria-label={`${action} of ${instance.name}`}>{action}</Button>
      <Modal opened={opened} onClose={dismiss} title={`Admin credential of ${instance.name}`} centered closeButtonProps={{ 'aria-label': 'Close' }}>
        <form onSubmit={form.handleSubmit((v) => save.mutate(v))}>
          <Stack>
            {instance.admin_credential.set && <Alert variant="outline" color="red.9">This replaces the stored credential ({instance.admin_credential.mask}).</Alert>}
            <PasswordInput label="Admin API key" autoComplete="off" data-1p-ignore {...form.register('api_key')} error={form.formState.errors.api_key?.message} />
            <ErrorAlert error={save.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={dismiss}>Cancel</Button>
              <Button type="submit" loading={save.isPending}>Save credential</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
