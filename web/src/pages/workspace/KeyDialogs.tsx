import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Group, Modal, MultiSelect, NumberInput, Select, SimpleGrid, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { client, unwrap, type paths } from '../../api';
import { EMPTY_KEY_FORM, GRACE_CHOICES, keyFormSchema, SCOPE_CHOICES, toCreateKeyBody, type KeyFormValues } from '../../lib/apiKeys';
import { ConfirmDialog } from '../../components/dialogs';

export type ApiKey = paths['/v1/workspaces/{id}/api-keys']['get']['responses'][200]['content']['application/json']['data'][number];

// Mantine's dimmed descriptions fall short of AA contrast on white.
const readable = { description: { color: 'var(--mantine-color-gray-8)' } };

// NumberInput reports '' when cleared and a string while a number is half typed.
const toCount = (v: string | number): number | '' => (v === '' ? '' : Number(v));

/** The new-key form. On success it hands the key up once (`onCreated`) and keeps no copy. */
export function CreateKeyDialog({ workspaceId, opened, onClose, onCreated }: { workspaceId: string; opened: boolean; onClose: () => void; onCreated: (key: string, name: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const form = useForm<KeyFormValues>({ resolver: zodResolver(keyFormSchema), defaultValues: EMPTY_KEY_FORM });
  const errors = form.formState.errors;
  const close = () => {
    form.reset(EMPTY_KEY_FORM);
    setError(null);
    onClose();
  };
  const submit = form.handleSubmit(async (values) => {
    setError(null);
    try {
      const created = await unwrap(client.POST('/v1/workspaces/{id}/api-keys', { params: { path: { id: workspaceId } }, body: toCreateKeyBody(values) }));
      close();
      onCreated(created.key, created.name);
    } catch (err) {
      setError((err as Error).message);
    }
  });
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={close} title="Create an API key" size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          {error && <Alert variant="outline" color="red.9" title="The key was not created">{error}</Alert>}
          <TextInput label="Name" styles={readable} description="Who or what uses it, e.g. billing-service" {...form.register('name')} error={errors.name?.message} data-autofocus />
          <Controller control={form.control} name="scopes" render={({ field }) => (
            <MultiSelect label="Scopes" styles={readable} description="What the key may do; * is everything" data={SCOPE_CHOICES} value={field.value} onChange={field.onChange} onBlur={field.onBlur}
              searchable clearable error={errors.scopes?.message} comboboxProps={{ withinPortal: true }} />
          )} />
          <TextInput type="datetime-local" label="Expires (UTC)" styles={readable} description="Leave empty for a key that does not expire" {...form.register('expires_at')} error={errors.expires_at?.message} />
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Controller control={form.control} name="rate_limit" render={({ field }) => (
              <NumberInput label="Rate limit (requests)" styles={readable} description="Empty: no limit" min={1} allowDecimal={false} value={field.value} onChange={(v) => field.onChange(toCount(v))} onBlur={field.onBlur} error={errors.rate_limit?.message} />
            )} />
            <Controller control={form.control} name="rate_window_s" render={({ field }) => (
              <NumberInput label="Per window (seconds)" styles={readable} description="e.g. 60 for a per-minute limit" min={1} allowDecimal={false} value={field.value} onChange={(v) => field.onChange(toCount(v))} onBlur={field.onBlur} error={errors.rate_window_s?.message} />
            )} />
          </SimpleGrid>
          <Controller control={form.control} name="remaining" render={({ field }) => (
            <NumberInput label="Remaining uses" styles={readable} description="Empty: unlimited; each verified request spends one" min={1} allowDecimal={false} value={field.value} onChange={(v) => field.onChange(toCount(v))} onBlur={field.onBlur} error={errors.remaining?.message} />
          )} />
          <Textarea label="IP allow-list" styles={readable} description="Addresses or CIDR ranges, one per line; empty: any address" autosize minRows={2} {...form.register('ip_allowlist')} error={errors.ip_allowlist?.message} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>Cancel</Button>
            <Button type="submit" loading={form.formState.isSubmitting}>Create</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Rotation: a successor key now, the old one working for the chosen grace period. */
export function RotateDialog({ apiKey, onClose, onRotated }: { apiKey: ApiKey | null; onClose: () => void; onRotated: (key: string, name: string) => void }) {
  const [grace, setGrace] = useState('86400');
  return (
    <ConfirmDialog title={`Rotate “${apiKey?.name ?? ''}”`} opened={apiKey !== null} onClose={onClose} confirmLabel="Rotate" onConfirm={async () => {
      const rotated = await unwrap(client.POST('/v1/api-keys/{id}/rotate', { params: { path: { id: apiKey!.id } }, body: { grace_s: Number(grace) } }));
      onClose();
      onRotated(rotated.key, rotated.name);
    }}>
      <Text size="sm">A new key replaces this one. Callers keep working with the old key during the grace period, then it is revoked.</Text>
      <Select label="Grace period" data={GRACE_CHOICES} value={grace} onChange={(v) => setGrace(v ?? '86400')} allowDeselect={false} comboboxProps={{ withinPortal: true }} />
    </ConfirmDialog>
  );
}

/** Revocation is immediate on every process: say so before doing it. */
export function RevokeDialog({ apiKey, onClose, onRevoked }: { apiKey: ApiKey | null; onClose: () => void; onRevoked: () => void }) {
  return (
    <ConfirmDialog title={`Revoke “${apiKey?.name ?? ''}”`} opened={apiKey !== null} onClose={onClose} confirmLabel="Revoke" color="red.9" onConfirm={async () => {
      await unwrap(client.DELETE('/v1/api-keys/{id}', { params: { path: { id: apiKey!.id } } }));
      onClose();
      onRevoked();
    }}>
      <Text size="sm">Every request with this key is refused from now on. This cannot be undone.</Text>
    </ConfirmDialog>
  );
}
