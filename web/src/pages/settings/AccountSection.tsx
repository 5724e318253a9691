import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Code, CopyButton, Group, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { api } from '../../api';
import { useMe } from '../../session';
import { ErrorAlert, SectionHead } from './parts';

const CodeForm = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6 digits your app shows') });

/** The signed-in person and their two-factor sign-in: the one section everyone has. */
export function AccountSection() {
  const me = useMe();
  const queries = useQueryClient();
  const enroll = useMutation({ mutationFn: () => api<{ otpauth_url: string }>('POST', '/v1/auth/mfa/enroll') });
  const confirm = useMutation({
    mutationFn: (v: z.infer<typeof CodeForm>) => api('POST', '/v1/auth/mfa/confirm', v),
    // The otpauth link holds the secret: forget it once it has served.
    onSuccess: () => { enroll.reset(); return queries.invalidateQueries({ queryKey: ['me'] }); },
  });
  const form = useForm({ resolver: zodResolver(CodeForm), defaultValues: { code: '' } });
  const url = enroll.data?.otpauth_url;
  return (
    <Stack maw={640}>
      <Text>{me.user.name} · {me.user.email}{me.user.platform_admin ? ' · platform admin' : ''}</Text>
      <SectionHead title="Two-factor sign-in">A code from an authenticator app on top of your password.</SectionHead>
      {me.user.mfa_required && <Alert variant="outline" color="red.9" title="Required by your organization">Set up two-factor sign-in to continue.</Alert>}
      {confirm.isSuccess && <Alert variant="outline" color="teal.9" role="status">Two-factor sign-in is on: sign-in asks for a code from now on.</Alert>}
      <ErrorAlert error={enroll.error ?? confirm.error} />
      {me.user.mfa_enabled ? (
        <Text>On.</Text>
      ) : url ? (
        <Stack>
          <Text size="sm">Add this to your authenticator app (most accept the link or its secret), then enter the code it shows.</Text>
          <Code block style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{url}</Code>
          <CopyButton value={url}>{({ copied, copy }) => <Button size="xs" variant="default" w="fit-content" onClick={copy}>{copied ? 'Copied' : 'Copy link'}</Button>}</CopyButton>
          <form onSubmit={form.handleSubmit((v) => confirm.mutate(v))}>
            <Group align="start">
              <TextInput label="Code" inputMode="numeric" autoComplete="one-time-code" {...form.register('code')} error={form.formState.errors.code?.message} />
              <Button type="submit" mt={25} loading={confirm.isPending}>Turn on</Button>
            </Group>
          </form>
        </Stack>
      ) : (
        <Button onClick={() => enroll.mutate()} loading={enroll.isPending} w="fit-content">Set up two-factor sign-in</Button>
      )}
    </Stack>
  );
}
