import { zodResolver } from '@hookform/resolvers/zod';
import { ActionIcon, Button, Checkbox, Group, Modal, NumberInput, PasswordInput, Stack, TagsInput, Text, Textarea, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Controller, useFieldArray, useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../../api';
import { EVENT_FILTER, eventChoices, headersToRows, rowsToHeaders } from '../../../lib/webhooks';
import { keys, type Endpoint } from './model';
import { ErrorNote } from '../../../components/dialogs';
import { queryKeys } from '../../../lib/query-keys';

const schema = z.object({
  name: z.string().trim().max(64).regex(/^([A-Za-z0-9][A-Za-z0-9 _.-]*)?$/, 'Letters, digits, spaces, _ . and -, starting with a letter or digit'),
  url: z.string().trim().min(1, 'The URL is required').refine((v) => /^https?:\/\/[^\s]+$/i.test(v) && URL.canParse(v), 'A full http(s):// URL'),
  description: z.string().max(500),
  events: z.array(z.string().regex(EVENT_FILTER, 'Event types like lead.replied, wildcards like lead.*, or *')).min(1, 'Pick at least one event type').max(100),
  timeout_s: z.number({ error: 'A number of seconds' }).int().min(1, 'At least 1 s').max(300, 'At most 300 s'),
  max_retries: z.number({ error: 'A number' }).int().min(0, 'At least 0').max(10, 'At most 10'),
  headers: z.array(z.object({ key: z.string().max(64).regex(/^([A-Za-z0-9!#$%&'*+.^_`|~-]+)?$/, 'Not a header name'), value: z.string().max(1024) })).max(20),
  auth_token: z.string().max(4096),
  remove_auth_token: z.boolean(),
});
type Values = z.infer<typeof schema>;

// Mantine's dimmed description text is too light for AA contrast on white.
const DARK = { c: 'gray.8' };

const blank: Values = { name: '', url: '', description: '', events: [], timeout_s: 30, max_retries: 8, headers: [], auth_token: '', remove_auth_token: false };

const valuesOf = (e: Endpoint): Values => ({
  name: e.name ?? '', url: e.url, description: e.description ?? '', events: e.events, timeout_s: e.timeout_s, max_retries: e.max_retries,
  headers: headersToRows(e.headers), auth_token: '', remove_auth_token: false,
});

/**
 * Add or edit an endpoint. The name is fixed once created (events are sent to it by name), and
 * the auth token is never sent back: the field starts empty, and empty keeps the stored one.
 */
export function EndpointDialog({ workspaceId, endpoint, opened, onClose, onCreated }: {
  workspaceId: string; endpoint: Endpoint | null; opened: boolean; onClose: () => void; onCreated: (secret: string, endpoint: Endpoint) => void;
}) {
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={onClose} title={endpoint ? `Edit ${endpoint.name ?? 'endpoint'}` : 'Add endpoint'} size="lg">
      {/* Mounted only while open, so every opening starts from the endpoint as it is now. */}
      {opened && <EndpointForm workspaceId={workspaceId} endpoint={endpoint} onClose={onClose} onCreated={onCreated} />}
    </Modal>
  );
}

function EndpointForm({ workspaceId, endpoint, onClose, onCreated }: { workspaceId: string; endpoint: Endpoint | null; onClose: () => void; onCreated: (secret: string, endpoint: Endpoint) => void }) {
  const queries = useQueryClient();
  const catalog = useQuery({
    queryKey: queryKeys.eventTypes(workspaceId),
    queryFn: () => unwrap(client.GET('/v1/event-types', { params: { query: { workspace_id: workspaceId } } })),
    staleTime: 60_000,
  });
  const form = useForm<Values>({ resolver: zodResolver(schema), defaultValues: endpoint ? valuesOf(endpoint) : blank });
  const headerRows = useFieldArray({ control: form.control, name: 'headers' });
  const { errors, isSubmitting } = form.formState;

  const submit = form.handleSubmit(async (v) => {
    const common = {
      url: v.url, events: v.events, description: v.description || null, timeout_s: v.timeout_s, max_retries: v.max_retries, headers: rowsToHeaders(v.headers),
    };
    try {
      if (endpoint) {
        const auth = v.remove_auth_token ? { auth_token: null } : v.auth_token ? { auth_token: v.auth_token } : {};
        await unwrap(client.PATCH('/v1/webhooks/{id}', { params: { path: { id: endpoint.id } }, body: { ...common, ...auth } }));
      } else {
        const created = await unwrap(client.POST('/v1/workspaces/{id}/webhooks', {
          params: { path: { id: workspaceId } },
          body: { ...common, ...(v.name ? { name: v.name } : {}), ...(v.auth_token ? { auth_token: v.auth_token } : {}) },
        }));
        const { secret, ...rest } = created;
        onCreated(secret, rest);
      }
      await queries.invalidateQueries({ queryKey: keys.all(workspaceId) });
      onClose();
    } catch (err) {
      form.setError('root', { message: (err as Error).message });
    }
  });

  const choices = eventChoices((catalog.data?.data ?? []).map((t) => t.name));
  return (
    <form onSubmit={submit} noValidate>
      <Stack>
        <TextInput label="Name" descriptionProps={DARK} description={endpoint ? 'Fixed once created' : 'Optional; events can be sent to an endpoint by name'} readOnly={!!endpoint} {...form.register('name')} error={errors.name?.message} />
        <TextInput label="URL" placeholder="https://example.com/webhooks" required {...form.register('url')} error={errors.url?.message} />
        <Textarea label="Description" autosize minRows={1} {...form.register('description')} error={errors.description?.message} />
        <Controller control={form.control} name="events" render={({ field }) => (
          <TagsInput label="Events" required descriptionProps={DARK} description="Pick from the catalog or type a wildcard such as lead.*; * is every event" data={choices}
            value={field.value} onChange={field.onChange} onBlur={field.onBlur} error={errors.events?.message ?? errors.events?.find?.((e) => e)?.message}
            placeholder={catalog.isError ? 'The catalog did not load: type event types' : 'lead.replied, lead.*'} clearable clearButtonProps={{ 'aria-label': 'Clear the events' }} maxDropdownHeight={240} />
        )} />
        <Group grow align="start">
          <Controller control={form.control} name="timeout_s" render={({ field }) => (
            <NumberInput label="Timeout (s)" min={1} max={300} allowDecimal={false} value={field.value} onChange={(v) => field.onChange(typeof v === 'number' ? v : NaN)} onBlur={field.onBlur} error={errors.timeout_s?.message} />
          )} />
          <Controller control={form.control} name="max_retries" render={({ field }) => (
            <NumberInput label="Max retries" min={0} max={10} allowDecimal={false} value={field.value} onChange={(v) => field.onChange(typeof v === 'number' ? v : NaN)} onBlur={field.onBlur} error={errors.max_retries?.message} />
          )} />
        </Group>
        <Stack gap={6}>
          <Text size="sm" fw={500}>Custom headers</Text>
          {headerRows.fields.map((row, i) => (
            <Group key={row.id} align="start" wrap="nowrap">
              <TextInput aria-label={`Header ${i + 1} name`} placeholder="X-Tenant" style={{ flex: 1 }} {...form.register(`headers.${i}.key`)} error={errors.headers?.[i]?.key?.message} />
              <TextInput aria-label={`Header ${i + 1} value`} placeholder="value" style={{ flex: 1 }} {...form.register(`headers.${i}.value`)} />
              <ActionIcon variant="subtle" color="gray.8" size="lg" aria-label={`Remove header ${i + 1}`} onClick={() => headerRows.remove(i)}>✕</ActionIcon>
            </Group>
          ))}
          <Group><Button variant="default" size="xs" onClick={() => headerRows.append({ key: '', value: '' })} disabled={headerRows.fields.length >= 20}>Add header</Button></Group>
        </Stack>
        <PasswordInput label="Auth token" autoComplete="new-password" descriptionProps={DARK}
          description={endpoint?.auth_token ? `Sent as Authorization: Bearer. Set (${endpoint.auth_token}); leave blank to keep it` : 'Optional; sent as Authorization: Bearer'}
          {...form.register('auth_token')} error={errors.auth_token?.message} />
        {endpoint?.auth_token && <Checkbox label="Remove the auth token" {...form.register('remove_auth_token')} />}
        <ErrorNote error={errors.root ? new Error(errors.root.message) : null} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button type="submit" loading={isSubmitting}>{endpoint ? 'Save changes' : 'Create endpoint'}</Button>
        </Group>
      </Stack>
    </form>
  );
}
