import { Button, Group, Modal, PasswordInput, Stack, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api';
import { kindOf } from '../../lib/inbound';
import { ErrorNote, OneTimeSecret } from '../../components/dialogs';

/**
 * "Rotate": a new secret while the old one keeps working for a day, so the sender can be switched
 * over without losing events. Gatehouse picks the new one for its own kinds (shown once); for a
 * provider's own secret (Twilio, Meta…) the operator enters the one the provider now uses.
 */
export function RotateSecretButton({ source, onDone }: { source: { id: string; name: string; provider: string }; onDone: () => void }) {
  const [opened, { open, close }] = useDisclosure(false);
  const [secret, setSecret] = useState('');
  const [revealed, setRevealed] = useState<string | null>(null);
  const kind = kindOf(source.provider);
  const bringsOwn = kind?.secret === 'required';
  const rotate = useMutation({
    mutationFn: () => unwrap(client.POST('/v1/inbound-sources/{id}/rotate-secret', { params: { path: { id: source.id } }, body: bringsOwn ? { secret } : {} })),
    onSuccess: (r) => {
      onDone();
      if (!bringsOwn && r.secret) setRevealed(r.secret);
      else finish();
    },
  });
  const finish = () => {
    setRevealed(null);
    setSecret('');
    rotate.reset();
    close();
  };
  return (
    <>
      <Button size="xs" variant="default" onClick={open}>Rotate</Button>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={finish} title={`Rotate the secret of ${source.name}`} centered>
        {revealed ? (
          <OneTimeSecret label={kind?.secretLabel ?? 'Secret'} value={revealed} onDone={finish} />
        ) : (
          <Stack>
            <Text size="sm">The current secret is still accepted for 24 hours, while you switch the sender over.</Text>
            {bringsOwn && <PasswordInput label={`New ${kind!.secretLabel.toLowerCase()}`} autoComplete="off" value={secret} onChange={(e) => setSecret(e.currentTarget.value)} />}
            {rotate.isError && <ErrorNote error={rotate.error} />}
            <Group justify="flex-end">
              <Button variant="default" onClick={finish}>Cancel</Button>
              <Button color="red.9" loading={rotate.isPending} disabled={bringsOwn && secret.length < 8} onClick={() => rotate.mutate()}>Rotate secret</Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
