import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text, type ButtonProps } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState, type ReactNode } from 'react';
import { ApiError } from '../api';

/** The server's own sentence for a refused change (ApiError.message), in an alert; nothing when there is no error. */
export function ErrorNote({ error, title = 'Not done', text }: { error: unknown; title?: string; text?: (error: unknown) => string }) {
  if (error === null || error === undefined || error === false) return null;
  const message = text ? text(error) : error instanceof ApiError || error instanceof Error ? error.message : String(error);
  return <Alert variant="outline" color="red.9" title={title} role="alert">{message}</Alert>;
}

/**
 * A secret shown this once (an API key, a signing secret). The caller holds it in component state
 * only, never a query or mutation cache, and drops it in `onDone`, so afterwards it is in neither
 * memory nor the page's HTML. Used inside a dialog the caller already has open, or by SecretReveal.
 */
export function OneTimeSecret({ label, value, note, doneLabel = 'Done', onDone }: { label: string; value: string; note?: ReactNode; doneLabel?: string; onDone: () => void }) {
  return (
    <Stack>
      <Alert variant="outline" color="red.9" title="Copy it now: you will not see it again">
        Gatehouse keeps it only sealed or hashed. {note}
      </Alert>
      <Text fw={600} id="revealed-secret-label">{label}</Text>
      <Code block aria-labelledby="revealed-secret-label" data-testid="revealed-secret" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{value}</Code>
      <Group justify="space-between">
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Button variant={copied ? 'filled' : 'default'} color={copied ? 'teal.9' : undefined} onClick={copy}>{copied ? 'Copied' : 'Copy to clipboard'}</Button>
          )}
        </CopyButton>
        <Button onClick={onDone}>{doneLabel}</Button>
      </Group>
    </Stack>
  );
}

/** OneTimeSecret in its own dialog, open while `secret` is set. */
export function SecretReveal({ title, secret, onClose, ...rest }: { title: string; secret: string | null; label: string; note?: ReactNode; doneLabel?: string; onClose: () => void }) {
  return (
    <Modal opened={secret !== null} onClose={onClose} title={title} size="lg" closeOnClickOutside={false}>
      {secret !== null && <OneTimeSecret value={secret} onDone={onClose} {...rest} />}
    </Modal>
  );
}

/**
 * A destructive action behind a confirmation dialog. `onConfirm` may throw an ApiError; its
 * message stays in the dialog rather than being lost.
 */
export function ConfirmDialog({ opened, title, children, confirmLabel, onConfirm, onClose, color = 'red.9' }: {
  opened: boolean; title: string; children: ReactNode; confirmLabel: string; onConfirm: () => Promise<unknown>; onClose: () => void; color?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setError(null);
    onClose();
  };
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
    <Modal opened={opened} onClose={close} title={title} centered>
      <Stack>
        <ErrorNote error={error} title="Nothing was changed" />
        {typeof children === 'string' ? <Text size="sm">{children}</Text> : children}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>Cancel</Button>
          <Button color={color} loading={busy} onClick={confirm}>{confirmLabel}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A button that asks before it acts (ConfirmDialog behind it). */
export function ConfirmAction({ label, buttonProps, ...dialog }: {
  label: string; title: string; children: ReactNode; confirmLabel: string; onConfirm: () => Promise<unknown>; color?: string; buttonProps?: ButtonProps & { 'aria-label'?: string };
}) {
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <>
      <Button size="xs" variant="default" onClick={open} {...buttonProps}>{label}</Button>
      <ConfirmDialog opened={opened} onClose={close} {...dialog} />
    </>
  );
}
