import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Code, CopyButton, PasswordInput, Stack, Text } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ErrorNote } from '../../components/dialogs';
import { reauthErrorText } from '../../lib/account';
import { SectionHead } from './parts';

const Change = z
  .object({
    current: z.string().min(1, 'Your current password'),
    next: z.string().min(12, 'At least 12 characters'),
    repeat: z.string(),
  })
  .refine((v) => v.next === v.repeat, { path: ['repeat'], message: 'The two new passwords differ' });

/** A new password, proven with the current one; the passwords stay in the form only and are cleared after each try. */
export function ChangePassword() {
  const form = useForm({ resolver: zodResolver(Change), defaultValues: { current: '', next: '', repeat: '' } });
  const change = useMutation({
    mutationFn: () => {
      const { current, next } = form.getValues();
      return unwrap(client.POST('/v1/auth/password', { body: { current, new: next } }));
    },
    onSettled: () => form.reset(),
  });
  return (
    <Stack maw={480} gap="xs">
      <SectionHead title="Password">Changing it signs you out of your other sessions.</SectionHead>
      {change.isSuccess && (
        <Alert variant="outline" color="teal.9" role="status">
          Your password is changed{change.data.sessions_ended ? `; ${change.data.sessions_ended} other ${change.data.sessions_ended === 1 ? 'session was' : 'sessions were'} ended` : ''}.
        </Alert>
      )}
      <ErrorNote error={change.error} title="Not changed" text={reauthErrorText} />
      <form onSubmit={form.handleSubmit(() => change.mutate())} aria-label="Change password">
        <Stack gap="xs">
          <PasswordInput label="Current password" autoComplete="current-password" {...form.register('current')} error={form.formState.errors.current?.message} />
          <PasswordInput label="New password" autoComplete="new-password" {...form.register('next')} error={form.formState.errors.next?.message} />
          <PasswordInput label="Repeat new password" autoComplete="new-password" {...form.register('repeat')} error={form.formState.errors.repeat?.message} />
          <Button type="submit" w="fit-content" loading={change.isPending}>Change password</Button>
        </Stack>
      </form>
    </Stack>
  );
}

/** Recovery codes as shown once, right after they were made: nothing keeps them after this screen. */
export function RecoveryCodesShown({ codes }: { codes: string[] }) {
  const text = codes.join('\n');
  return (
    <Stack maw={480} gap="xs" aria-label="Recovery codes">
      <Text size="sm">Recovery codes: each signs you in once instead of an authenticator code, if you lose your phone. Keep them somewhere safe: they are shown only now.</Text>
      <Code block>{text}</Code>
      <CopyButton value={text}>{({ copied, copy }) => <Button size="xs" variant="default" w="fit-content" onClick={copy}>{copied ? 'Copied' : 'Copy codes'}</Button>}</CopyButton>
    </Stack>
  );
}
