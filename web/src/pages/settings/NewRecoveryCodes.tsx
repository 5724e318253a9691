import { zodResolver } from '@hookform/resolvers/zod';
import { Button, Group, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { z } from 'zod';
import { client, unwrap } from '../../api';
import { ErrorNote } from '../../components/dialogs';
import { reauthErrorText } from '../../lib/account';
import { RecoveryCodesShown } from './PasswordForms';

const Proof = z.object({
  password: z.string().min(1, 'Your password'),
  code: z.string().trim().regex(/^\d{6}$/, 'The 6 digits your authenticator app shows'),
});

/**
 * New recovery codes replace the earlier ones, so, like replacing the authenticator, it asks for the
 * password and a current code. The codes are shown once: closing them drops them from the page.
 */
export function NewRecoveryCodes({ onIssued }: { onIssued: () => void }) {
  const [asking, setAsking] = useState(false);
  const form = useForm({ resolver: zodResolver(Proof), defaultValues: { password: '', code: '' } });
  const renew = useMutation({
    mutationFn: () => {
      const { password, code } = form.getValues();
      return unwrap(client.POST('/v1/auth/mfa/recovery-codes', { body: { password, code: code.trim() } }));
    },
    onSettled: () => form.reset(),
    // The codes shown before (when two-factor was turned on) stop working: the page drops them.
    onSuccess: () => { setAsking(false); onIssued(); },
  });
  if (renew.data) {
    return (
      <Stack gap="xs">
        <Text size="sm" role="status">New recovery codes: the earlier ones no longer work.</Text>
        <RecoveryCodesShown codes={renew.data.recovery_codes} />
        <Button size="xs" variant="default" w="fit-content" onClick={() => renew.reset()}>I have saved them</Button>
      </Stack>
    );
  }
  if (!asking) return <Button variant="default" size="xs" w="fit-content" onClick={() => setAsking(true)}>New recovery codes</Button>;
  return (
    <form onSubmit={form.handleSubmit(() => renew.mutate())} aria-label="New recovery codes">
      <Stack gap="xs" maw={640}>
        <Text size="sm">New recovery codes replace the ones you have. Confirm it is you: your password and the code your authenticator app shows now.</Text>
        <ErrorNote error={renew.error} title="No new codes" text={reauthErrorText} />
        <PasswordInput label="Current password" autoComplete="current-password" {...form.register('password')} error={form.formState.errors.password?.message} />
        <TextInput label="Current code" inputMode="numeric" autoComplete="one-time-code" {...form.register('code')} error={form.formState.errors.code?.message} />
        <Group>
          <Button type="submit" loading={renew.isPending}>Get new codes</Button>
          <Button variant="default" onClick={() => { form.reset(); renew.reset(); setAsking(false); }}>Cancel</Button>
        </Group>
      </Stack>
    </form>
  );
}
