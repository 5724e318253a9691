import { zodResolver } from '@hookform/resolvers/zod';
import { Button, Code, CopyButton, Group, Modal, PasswordInput, Select, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { asksForSecret, INBOUND_KINDS, INBOUND_PROVIDERS, kindOf, type InboundProvider } from '../../lib/inbound';
import { ErrorNote, OneTimeSecret } from '../../components/dialogs';
import { queryKeys } from '../../lib/query-keys';

const schema = z
  .object({
    provider: z.enum(INBOUND_PROVIDERS),
    name: z.string().trim().min(1, 'Give it a name').max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'Letters, digits, spaces, _ . - (starting with a letter or digit)'),
    secret: z.string(),
    provider_workspace_id: z.string().trim(),
  })
  .superRefine((v, ctx) => {
    const kind = INBOUND_KINDS[v.provider];
    if (kind.secret === 'required' && v.secret.length < 8) ctx.addIssue({ code: 'custom', path: ['secret'], message: `The ${kind.secretLabel.toLowerCase()} (at least 8 characters)` });
    if (kind.secret === 'optional' && v.secret !== '' && v.secret.length < 8) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'At least 8 characters, or leave it empty' });
    if (v.provider === 'emailbison' && !v.provider_workspace_id) ctx.addIssue({ code: 'custom', path: ['provider_workspace_id'], message: "Email Bison signs nothing: each event's workspace id is checked against this" });
  });
type Form = z.infer<typeof schema>;

interface Created { url: string; secret: string | null; verify_token: string | null; provider: string }

/** "Add source": the form, then the receiving URL and any secret Gatehouse picked, shown once. */
export function AddSourceButton({ workspaceId }: { workspaceId: string }) {
  const [opened, { open, close }] = useDisclosure(false);
  const [created, setCreated] = useState<Created | null>(null);
  const queries = useQueryClient();
  const form = useForm<Form>({ resolver: zodResolver(schema), defaultValues: { provider: 'standard', name: '', secret: '', provider_workspace_id: '' } });
  const provider = form.watch('provider') as InboundProvider;
  const kind = INBOUND_KINDS[provider];

  const create = useMutation({
    mutationFn: (v: Form) =>
      unwrap(client.POST('/v1/workspaces/{id}/inbound-sources', {
        params: { path: { id: workspaceId } },
        body: {
          provider: v.provider,
          name: v.name,
          ...(asksForSecret(v.provider) && v.secret ? { secret: v.secret } : {}),
          ...(v.provider === 'emailbison' ? { provider_workspace_id: v.provider_workspace_id } : {}),
        },
      })),
    onSuccess: (s) => {
      setCreated({ url: s.url, provider: s.provider, secret: kindOf(s.provider)?.secret === 'generated' ? s.secret : null, verify_token: s.provider === 'whatsapp' ? s.verify_token : null });
      form.reset();
      void queries.invalidateQueries({ queryKey: queryKeys.inboundSources(workspaceId) });
    },
  });

  const finish = () => {
    // The secret leaves memory and the page with the dialog.
    setCreated(null);
    create.reset();
    close();
  };

  return (
    <>
      <Button onClick={open}>Add source</Button>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={finish} title={created ? 'Source added' : 'Add an inbound source'} centered size="lg">
        {created ? (
          <Stack>
            <Text size="sm">Give the provider this receiving URL:</Text>
            <Group wrap="nowrap" align="flex-start">
              <Code block style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap', flex: 1 }} aria-label="Receiving URL">{created.url}</Code>
              <CopyButton value={created.url}>{({ copied, copy }) => <Button variant="default" size="xs" onClick={copy}>{copied ? 'Copied' : 'Copy URL'}</Button>}</CopyButton>
            </Group>
            {created.verify_token && <Text size="sm">WhatsApp verify token (enter it in Meta's webhook settings): <Code>{created.verify_token}</Code></Text>}
            {created.secret ? <OneTimeSecret label={INBOUND_KINDS[created.provider as InboundProvider].secretLabel} value={created.secret} onDone={finish} /> : <Group justify="flex-end"><Button onClick={finish}>Done</Button></Group>}
          </Stack>
        ) : (
          <form onSubmit={form.handleSubmit((v) => create.mutate(v))} noValidate>
            <Stack>
              <Controller control={form.control} name="provider" render={({ field }) => (
                <Select label="Provider" data={INBOUND_PROVIDERS.map((p) => ({ value: p, label: INBOUND_KINDS[p].label }))} value={field.value} onChange={(v) => v && field.onChange(v)} allowDeselect={false} comboboxProps={{ withinPortal: true }} />
              )} />
              <TextInput label="Name" placeholder="e.g. billing events" error={form.formState.errors.name?.message} {...form.register('name')} />
              {kind.secret === 'generated' && <Text size="sm">Gatehouse generates the {kind.secretLabel.toLowerCase()} and shows it once, after you add the source.</Text>}
              {asksForSecret(provider) && (
                <PasswordInput label={kind.secretLabel} description={kind.secret === 'required' ? "The provider's own secret, from its console" : 'Optional: a token the sender must present'} autoComplete="off" withAsterisk={kind.secret === 'required'} error={form.formState.errors.secret?.message} {...form.register('secret')} />
              )}
              {provider === 'emailbison' && <TextInput label="Email Bison workspace id" withAsterisk error={form.formState.errors.provider_workspace_id?.message} {...form.register('provider_workspace_id')} />}
              {create.isError && <ErrorNote error={create.error} />}
              <Group justify="flex-end">
                <Button variant="default" onClick={finish}>Cancel</Button>
                <Button type="submit" loading={create.isPending}>Add</Button>
              </Group>
            </Stack>
          </form>
        )}
      </Modal>
    </>
  );
}
