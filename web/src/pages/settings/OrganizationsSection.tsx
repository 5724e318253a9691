import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Group, Modal, NumberInput, Select, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { PLANS, seatsText } from '../../lib/settings';
import { fetchAllPages, PAGE_LIMIT } from '../../lib/paging';
import { DataTable, Loaded } from '../common';
import { ErrorAlert, SectionHead } from './parts';
import { queryKeys } from '../../lib/query-keys';

type Org = { id: string; name: string; plan: (typeof PLANS)[number]; seat_limit: number | null; seats_used?: number; mfa_required: boolean };

const planData = PLANS.map((p) => ({ value: p, label: p[0].toUpperCase() + p.slice(1) }));
// Empty seats: the plan's own number (free 3, starter 10, professional 50, enterprise unlimited).
const Seats = z.union([z.number().int().min(1, 'At least 1').max(1_000_000), z.literal('')]);
const PlanForm = z.object({ plan: z.enum(PLANS), seats: Seats });
const NewOrg = z.object({ name: z.string().trim().min(1, 'Give it a name').max(200), plan: z.enum(PLANS) });
const NewWorkspace = z.object({ name: z.string().trim().min(1, 'Give it a name').max(200) });

/** Organizations: plan, seats, whether two-factor sign-in is required, and their workspaces (platform admin). */
export function OrganizationsSection() {
  const queries = useQueryClient();
  const orgs = useQuery({ queryKey: queryKeys.organizations, queryFn: () => fetchAllPages((cursor) => unwrap(client.GET('/v1/organizations', { params: { query: { cursor, limit: PAGE_LIMIT } } }))) });
  const form = useForm({ resolver: zodResolver(NewOrg), defaultValues: { name: '', plan: 'free' as const } });
  const create = useMutation({
    mutationFn: (body: z.infer<typeof NewOrg>) => unwrap(client.POST('/v1/organizations', { body })),
    onSuccess: () => { form.reset(); return queries.invalidateQueries({ queryKey: queryKeys.organizations }); },
  });
  const mfa = useMutation({
    mutationFn: ({ id, on }: { id: string; on: boolean }) => unwrap(client.PATCH('/v1/organizations/{id}', { params: { path: { id } }, body: { mfa_required: on } })),
    onSettled: () => queries.invalidateQueries({ queryKey: queryKeys.organizations }),
  });
  return (
    <Stack>
      <SectionHead title="Organizations">Each customer's plan and seats (a seat is one person, however many of its workspaces they are in), and whether its members must use two-factor sign-in.</SectionHead>
      <ErrorAlert error={mfa.error} />
      <Loaded query={orgs} empty={(d) => d.data.length === 0}>
        {(d) => (
          <DataTable rows={d.data as Org[]} rowKey={(o) => o.id} minWidth={760} columns={[
            ['Name', (o) => o.name],
            ['Plan', (o) => planData.find((p) => p.value === o.plan)?.label],
            ['Seats', (o) => seatsText(o.seats_used, o.seat_limit)],
            ['MFA required', (o) => (
              // Shows the change asked for until the list comes back with it, and takes no second click meanwhile.
              <Switch checked={mfa.isPending && mfa.variables.id === o.id ? mfa.variables.on : o.mfa_required} aria-label={`MFA required in ${o.name}`} disabled={mfa.isPending || orgs.isFetching}
                onChange={(e) => mfa.mutate({ id: o.id, on: e.currentTarget.checked })} />
            )],
            ['', (o) => <Group gap="xs" wrap="nowrap"><PlanButton org={o} /><WorkspaceButton org={o} /></Group>],
          ]} />
        )}
      </Loaded>
      <form onSubmit={form.handleSubmit((v) => create.mutate(v))}>
        <Stack maw={640} gap="xs">
          <Text fw={600}>New organization</Text>
          <TextInput label="Organization name" {...form.register('name')} error={form.formState.errors.name?.message} />
          <Controller control={form.control} name="plan" render={({ field }) => (
            <Select label="Plan" data={planData} value={field.value} onChange={(v) => v && field.onChange(v)} allowDeselect={false} />
          )} />
          <ErrorAlert error={create.error} />
          <Button type="submit" loading={create.isPending} w="fit-content">Create organization</Button>
        </Stack>
      </form>
    </Stack>
  );
}

function PlanButton({ org }: { org: Org }) {
  const queries = useQueryClient();
  const [opened, { open, close }] = useDisclosure(false);
  const form = useForm({ resolver: zodResolver(PlanForm), values: { plan: org.plan, seats: org.seat_limit ?? ('' as const) } });
  const save = useMutation({
    mutationFn: (v: z.infer<typeof PlanForm>) =>
      unwrap(client.PATCH('/v1/organizations/{id}', { params: { path: { id: org.id } }, body: { plan: v.plan, seat_limit: v.seats === '' ? null : v.seats } })),
    onSuccess: () => { close(); return queries.invalidateQueries({ queryKey: queryKeys.organizations }); },
  });
  return (
    <>
      <Button size="xs" variant="default" onClick={open} aria-label={`Plan and seats of ${org.name}`}>Plan and seats</Button>
      <Modal opened={opened} onClose={() => { save.reset(); close(); }} title={`Plan and seats of ${org.name}`} centered closeButtonProps={{ 'aria-label': 'Close' }}>
        <form onSubmit={form.handleSubmit((v) => save.mutate(v))}>
          <Stack>
            <Controller control={form.control} name="plan" render={({ field }) => (
              <Select label="Plan" data={planData} value={field.value} onChange={(v) => v && field.onChange(v)} allowDeselect={false} />
            )} />
            <Controller control={form.control} name="seats" render={({ field, fieldState }) => (
              <NumberInput label="Seats (empty: the plan's own number)" min={1} allowDecimal={false} value={field.value}
                onChange={(v) => field.onChange(typeof v === 'number' ? v : '')} error={fieldState.error?.message} />
            )} />
            {org.seats_used !== undefined && <Alert variant="outline" color="gray.8">{seatsText(org.seats_used, org.seat_limit)} now. Fewer seats than people removes nobody; it stops new people joining.</Alert>}
            <ErrorAlert error={save.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button type="submit" loading={save.isPending}>Save</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}

function WorkspaceButton({ org }: { org: Org }) {
  const queries = useQueryClient();
  const [opened, { open, close }] = useDisclosure(false);
  const form = useForm({ resolver: zodResolver(NewWorkspace), defaultValues: { name: '' } });
  const create = useMutation({
    mutationFn: (body: z.infer<typeof NewWorkspace>) => unwrap(client.POST('/v1/organizations/{id}/workspaces', { params: { path: { id: org.id } }, body })),
    onSuccess: () => { form.reset(); close(); return queries.invalidateQueries({ queryKey: queryKeys.workspaces }); },
  });
  return (
    <>
      <Button size="xs" variant="default" onClick={open} aria-label={`New workspace in ${org.name}`}>New workspace</Button>
      <Modal opened={opened} onClose={() => { create.reset(); close(); }} title={`New workspace in ${org.name}`} centered closeButtonProps={{ 'aria-label': 'Close' }}>
        <form onSubmit={form.handleSubmit((v) => create.mutate(v))}>
          <Stack>
            <TextInput label="Workspace name" {...form.register('name')} error={form.formState.errors.name?.message} />
            <ErrorAlert error={create.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button type="submit" loading={create.isPending}>Create workspace</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
