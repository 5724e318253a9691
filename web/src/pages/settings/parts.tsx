import { Alert, Button, Group, Modal, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { errorText } from '../../lib/settings';

/** A failed call, in words (the seat limit explained), or nothing. */
export function ErrorAlert({ error, title = 'That did not work' }: { error: unknown; title?: string }) {
  if (!error) return null;
  return <Alert variant="outline" color="red.9" title={title} role="alert">{errorText(error)}</Alert>;
}

/** A section's heading and one line on what it is for. */
export function SectionHead({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap={4}>
      <Title order={3}>{title}</Title>
      <Text size="sm" c="gray.8">{children}</Text>
    </Stack>
  );
}

/** A destructive action asks first, naming what it will do. */
export function ConfirmButton({ label, title, children, onConfirm, busy }: { label: string; title: string; children: ReactNode; onConfirm: () => void; busy?: boolean }) {
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <>
      <Button size="xs" variant="outline" color="red.9" onClick={open} loading={busy}>{label}</Button>
      <Modal opened={opened} onClose={close} title={title} centered closeButtonProps={{ 'aria-label': 'Close' }}>
        <Stack>
          <Text size="sm">{children}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>Cancel</Button>
            <Button color="red.9" onClick={() => { close(); onConfirm(); }}>{label}</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
