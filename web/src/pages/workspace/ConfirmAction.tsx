import { Button, Group, Modal, Stack, Text, type ButtonProps } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState, type ReactNode } from 'react';
import { ErrorNote } from './ErrorNote';

/**
 * A button that asks before it acts: the question in a dialog, the action on "confirm", and the
 * server's refusal shown in the dialog rather than lost.
 */
export function ConfirmAction({ label, title, children, confirmLabel, onConfirm, color, buttonProps }: {
  label: string; title: string; children: ReactNode; confirmLabel: string; onConfirm: () => Promise<unknown>; color?: string; buttonProps?: ButtonProps & { 'aria-label'?: string };
}) {
  const [opened, { open, close }] = useDisclosure(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      close();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button size="xs" variant="default" onClick={open} {...buttonProps}>{label}</Button>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={close} title={title} centered>
        <Stack>
          <Text size="sm" component="div">{children}</Text>
          {error !== null && <ErrorNote error={error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>Cancel</Button>
            <Button color={color ?? 'red.9'} loading={busy} onClick={confirm}>{confirmLabel}</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

