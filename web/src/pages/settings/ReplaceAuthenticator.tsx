import { zodResolver } from '@hookform/resolvers/zod';
import { Button, Group, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ErrorNote } from '../../components/dialogs';
import { reauthErrorText } from '../../lib/account';

const Proof = z.object({
  password: z.string().min(1, 'Your password'),
  code: z.string().trim().regex(/^\d{6}$/, 'The 6 digits your current authenticator app shows'),
});

/**
 * Replacing a confirmed authenticator: a session alone is not enough, so the form asks for the
 * password and a current code first. Both stay in the form only (never in a query or mutation
 * cache) and are cleared after each try: the code is spent either way.
 */
export function ReplaceAuthenticator({ onEnrolled, onCancel }: { onEnrolled: (otpauthUrl: string) => void; onCancel: () => void }) {
  const form = useForm({ resolver: zodResolver(Proof), defaultValues: { password: '', code: '' } });
  const enroll = useMutation({
    mutationFn: () => {
      const { password, code } = form.getValues();
      return unwrap(client.POST('/v1/auth/mfa/enroll', { body: { password, code: code.trim() } }));
    },
    onSettled: () => form.reset(),
    onSuccess: (d) => onEnrolled(d.otpauth_url),
  });
  return (
    <form onSubmit={form.handleSubmit(() => enroll.mutate())} aria-label="Replace authenticator">
      <Stack gap="xs">
        <Text size="sm">To replace your authenticator, confirm it is you: your password and the code your current authenticator app shows now.</Text>
        <ErrorNote error={enroll.error} title="Not replaced" text={reauthErrorText} />
        <PasswordInput label="Current password" autoComplete="current-password" {...form.register('password')} error={form.formState.errors.password?.message} />
        <TextInput label="Current code" inputMode="numeric" autoComplete="one-time-code" {...form.register('code')} error={form.formState.errors.code?.message} />
        <Group>
          <Button type="submit" loading={enroll.isPending}>Continue</Button>
          <Button variant="default" onClick={onCancel}>Cancel</Button>
        </Group>
      </Stack>
    </form>
  );
}
