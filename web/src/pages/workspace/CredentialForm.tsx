import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Group, Modal, PasswordInput, Select, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Controller, useForm, type Resolver } from 'react-hook-form';
import { client, unwrap } from '../../api';
import { credentialSchema, describeTest, initialValues, isRequired, savePayload, testColor, visibleFields, type CatalogField, type CatalogProvider, type StoredCredential } from '../../lib/credentials';
import { useCanWrite, useMe } from '../../session';
import { EmailBisonActions } from './EmailBisonActions';
import { queryKeys } from '../../lib/query-keys';

type Values = Record<string, string>;
// Mantine's dimmed descriptions are below WCAG AA contrast; the masks live there, so they must be readable.
const DESCRIPTION_STYLES = { description: { color: 'var(--mantine-color-gray-8)' } };
interface Props { workspaceId: string; provider: CatalogProvider; stored?: StoredCredential; instances: Array<{ id: string; name: string }> }

/**
 * One provider's credential. Secret inputs start empty whatever is stored (the API only ever
 * returns a mask), so a secret reaches the page only while someone types it.
 */
export function CredentialForm({ workspaceId, provider, stored, instances }: Props) {
  const canWrite = useCanWrite(workspaceId);
  const isPlatformAdmin = useMe().user.platform_admin;
  const queries = useQueryClient();
  const schema = useMemo(() => credentialSchema(provider, stored), [provider, stored]);
  const form = useForm<Values>({ resolver: zodResolver(schema) as Resolver<Values>, defaultValues: initialValues(provider, stored) });
  const values = form.watch();
  const ids = { params: { path: { id: workspaceId, provider: provider.id } } };
  const refresh = () => Promise.all([queries.invalidateQueries({ queryKey: queryKeys.credentials(workspaceId) }), queries.invalidateQueries({ queryKey: queryKeys.workspaceHealth(workspaceId) }), queries.invalidateQueries({ queryKey: queryKeys.onboarding(workspaceId) })]);

  const save = useMutation({
    mutationFn: (v: Values) => unwrap(client.PUT('/v1/workspaces/{id}/credentials/{provider}', { ...ids, body: savePayload(provider, v) })),
    onSuccess: async (saved) => {
      // The typed secret leaves the page: the inputs go back to empty, with the new mask beside them.
      form.reset(initialValues(provider, saved));
      test.reset();
      await refresh();
    },
  });
  const test = useMutation({
    mutationFn: () => unwrap(client.POST('/v1/workspaces/{id}/credentials/{provider}/test', ids)),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE('/v1/workspaces/{id}/credentials/{provider}', ids)),
    onSuccess: async () => {
      closeConfirm();
      form.reset(initialValues(provider, undefined));
      test.reset();
      await refresh();
    },
  });
  const [confirming, { open: openConfirm, close: closeConfirm }] = useDisclosure(false);
  const error = save.error ?? test.error ?? remove.error;

  const input = (f: CatalogField) => {
    const common = {
      label: f.label,
      withAsterisk: isRequired(provider, f, stored),
      error: form.formState.errors[f.name]?.message,
      styles: DESCRIPTION_STYLES,
      disabled: !canWrite,
    };
    if (f.secret) {
      const mask = stored?.secrets[f.name]?.set ? stored.secrets[f.name].mask : null;
      return (
        <PasswordInput
          key={f.name}
          {...common}
          {...form.register(f.name)}
          description={mask ? `Current: ${mask}` : f.description}
          placeholder={mask && canWrite ? 'leave blank to keep' : undefined}
          autoComplete="new-password"
          visibilityToggleButtonProps={{ 'aria-label': `Show or hide ${f.label}` }}
        />
      );
    }
    const options = provider.uses_instance && f.name === 'instance' ? instances.map((i) => ({ value: i.id, label: i.name })) : f.options?.map((o) => ({ value: o, label: o }));
    if (options) {
      return (
        <Controller
          key={f.name}
          control={form.control}
          name={f.name}
          render={({ field }) => (
            <Select {...common} data={options} value={field.value || null} onChange={(v) => field.onChange(v ?? '')} onBlur={field.onBlur} allowDeselect={false}
              description={f.name === 'instance' && options.length === 0 ? 'No instance is registered yet: a platform admin adds one with POST /v1/instances.' : f.description} />
          )}
        />
      );
    }
    return <TextInput key={f.name} {...common} {...form.register(f.name)} description={f.description} />;
  };

  return (
    <form onSubmit={form.handleSubmit((v) => save.mutate(v))} noValidate>
      <Stack gap="sm">
        {visibleFields(provider, values).map(input)}
        <Text size="xs" c="gray.8">Test connection: {provider.test}</Text>
        {canWrite && (
          <Group>
            <Button type="submit" loading={save.isPending}>Save</Button>
            {stored && <Button variant="default" onClick={() => test.mutate()} loading={test.isPending}>Test connection</Button>}
            {stored && <Button variant="outline" color="red.9" onClick={openConfirm}>Delete</Button>}
          </Group>
        )}
        {save.isSuccess && !form.formState.isDirty && <Text size="sm" c="teal.9" role="status">Saved.</Text>}
        {test.data && (
          <Alert variant="outline" color={testColor(test.data)} title={test.data.ok ? 'Connection works' : 'Connection failed'}>
            {describeTest(test.data)}
          </Alert>
        )}
        {error && <Alert variant="outline" color="red.9" title="That did not work">{error.message}</Alert>}
        {provider.id === 'emailbison' && stored && canWrite && (
          <EmailBisonActions workspaceId={workspaceId} canGenerate={isPlatformAdmin} body={{ instance: values.instance || undefined, provider_workspace_id: values.provider_workspace_id || undefined }} onChanged={refresh} />
        )}
      </Stack>
      <Modal opened={confirming} onClose={closeConfirm} title={`Delete the ${provider.name} credential?`}>
        <Stack>
          <Text size="sm">Calls to {provider.name} from this workspace will fail until a new credential is saved. The secret cannot be recovered.</Text>
          <Group justify="end">
            <Button variant="default" onClick={closeConfirm}>Cancel</Button>
            <Button color="red.9" onClick={() => remove.mutate()} loading={remove.isPending}>Yes, delete</Button>
          </Group>
        </Stack>
      </Modal>
    </form>
  );
}
