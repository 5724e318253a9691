import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Code, CopyButton, Divider, Group, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { useMe } from '../../session';
import { ErrorAlert, SectionHead } from './parts';
import { ChangePassword, RecoveryCodesShown } from './PasswordForms';
import { NewRecoveryCodes } from './NewRecoveryCodes';
import { ReplaceAuthenticator } from './ReplaceAuthenticator';
import { SessionsList } from './SessionsList';
import { queryKeys } from '../../lib/query-keys';

const CodeForm = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'Enter the 6 digits your app shows') });

/** The signed-in person, their two-factor sign-in and their sessions: the one section everyone has. */
export function AccountSection() {
  const me = useMe();
  const queries = useQueryClient();
  // The otpauth link holds the secret: kept in component state only, and forgotten once it has served.
  const [url, setUrl] = useState<string | null>(null);
  const [replacing, setReplacing] = useState(false);
  const enroll = useMutation({
    mutationFn: () => unwrap(client.POST('/v1/auth/mfa/enroll', { body: {} })),
    onSuccess: (d) => { setUrl(d.otpauth_url); enroll.reset(); },
  });
  const form = useForm({ resolver: zodResolver(CodeForm), defaultValues: { code: '' } });
  const confirm = useMutation({
    mutationFn: (v: z.infer<typeof CodeForm>) => unwrap(client.POST('/v1/auth/mfa/confirm', { body: v })),
    onSuccess: () => { setUrl(null); form.reset(); return queries.invalidateQueries({ queryKey: queryKeys.me }); },
  });
  const done = confirm.isSuccess && !url;
  return (
    <Stack maw={880}>
      <Text>{me.user.name} · {me.user.email}{me.user.platform_admin ? ' · platform admin' : ''}</Text>
      <SectionHead title="Two-factor sign-in">A code from an authenticator app on top of your password.</SectionHead>
      {me.user.mfa_required && <Alert variant="outline" color="red.9" title="Required by your organization">Set up two-factor sign-in to continue.</Alert>}
      {done && (
        <Alert variant="outline" color="teal.9" role="status">
          {replacing ? 'Two-factor sign-in is on with your new authenticator: codes from the old one no longer work.' : 'Two-factor sign-in is on: sign-in asks for a code from now on.'}
        </Alert>
      )}
      {done && confirm.data && <RecoveryCodesShown codes={confirm.data.recovery_codes} />}
      <ErrorAlert error={enroll.error ?? confirm.error} />
      {url ? (
        <Stack maw={640}>
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
      ) : me.user.mfa_enabled ? (
        replacing && !done ? (
          <Stack maw={640}><ReplaceAuthenticator onEnrolled={setUrl} onCancel={() => setReplacing(false)} /></Stack>
        ) : (
          <Stack gap="xs">
            <Group>
              <Text>On.</Text>
              <Button variant="default" size="xs" onClick={() => { confirm.reset(); setReplacing(true); }}>Replace authenticator</Button>
            </Group>
            <NewRecoveryCodes onIssued={() => confirm.reset()} />
          </Stack>
        )
      ) : (
        <Button onClick={() => enroll.mutate()} loading={enroll.isPending} w="fit-content">Set up two-factor sign-in</Button>
      )}
      <Divider />
      <ChangePassword />
      <Divider />
      <SessionsList />
    </Stack>
  );
}
