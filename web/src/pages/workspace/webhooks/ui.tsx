import { Alert, Badge, Button, Code, CopyButton, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { formatRate, rateColor } from '../../../lib/webhooks';

/** A success rate as a badge in its band's colour. */
export const RateBadge = ({ rate }: { rate: number | null | undefined }) => (
  <Badge color={rateColor(rate)} variant={rate === null || rate === undefined ? 'outline' : 'filled'}>{formatRate(rate)}</Badge>
);

/** An API error as a readable sentence, or nothing. */
export const ErrorAlert = ({ error, title = 'That did not work' }: { error: unknown; title?: string }) =>
  error ? <Alert variant="outline" color="red.9" title={title} role="alert">{(error as Error).message}</Alert> : null;

/**
 * A signing secret shown this once. It lives only in the caller's state: closing the dialog drops
 * it, so it is never in the page again (nor in the query cache).
 */
export function SecretReveal({ secret, title, onClose, children }: { secret: string | null; title: string; onClose: () => void; children?: ReactNode }) {
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={secret !== null} onClose={onClose} title={title} size="lg">
      {secret && (
        <Stack>
          {children}
          <Text size="sm">Copy the signing secret now: Gatehouse will not show it again. Receivers use it to verify the <Code>webhook-signature</Code> header.</Text>
          <TextInput label="Signing secret" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} styles={{ input: { fontFamily: 'monospace' } }} />
          <Group justify="space-between">
            <CopyButton value={secret}>
              {({ copied, copy }) => <Button variant="default" onClick={copy}>{copied ? 'Copied' : 'Copy secret'}</Button>}
            </CopyButton>
            <Button onClick={onClose}>Done</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

/**
 * A destructive action behind a confirmation dialog. `onConfirm` may throw an ApiError; its
 * message stays in the dialog.
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
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={close} title={title}>
      <Stack>
        <Text size="sm">{children}</Text>
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>Cancel</Button>
          <Button color={color} loading={busy} onClick={confirm}>{confirmLabel}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
