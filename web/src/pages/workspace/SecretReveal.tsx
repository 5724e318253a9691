import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';

/**
 * A secret shown once. The caller holds it in component state only (never a query or mutation
 * cache) and drops it in `onClose`, so after closing it is in neither memory nor the page's HTML.
 */
export function SecretReveal({ title, secret, note, onClose }: { title: string; secret: string | null; note?: string; onClose: () => void }) {
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={secret !== null} onClose={onClose} title={title} size="lg" closeOnClickOutside={false}>
      {secret !== null && (
        <Stack>
          <Alert variant="outline" color="red.9" title="Copy it now: you will not see it again">
            Gatehouse keeps only a hash of it. {note ?? 'If it is lost, rotate it to get a new one.'}
          </Alert>
          <Code block data-testid="revealed-secret" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{secret}</Code>
          <Group justify="space-between">
            <CopyButton value={secret}>
              {({ copied, copy }) => (
                <Button variant={copied ? 'filled' : 'default'} color={copied ? 'teal.9' : undefined} onClick={copy}>
                  {copied ? 'Copied' : 'Copy to clipboard'}
                </Button>
              )}
            </CopyButton>
            <Button onClick={onClose}>I have copied it</Button>
          </Group>
          <Text size="sm" c="gray.8">Closing this dialog removes it from the page.</Text>
        </Stack>
      )}
    </Modal>
  );
}
