import { Alert, Button, Code, CopyButton, Group, Stack, Text } from '@mantine/core';

/**
 * A secret shown this once: the page holds it only until "Done", so it is gone from the HTML
 * afterwards and nothing can show it again (the server keeps it sealed or hashed).
 */
export function OneTimeSecret({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  return (
    <Stack>
      <Alert variant="outline" color="red.9" title="Copy it now">
        This is the only time Gatehouse shows the {label.toLowerCase()}. Store it where the sender reads it.
      </Alert>
      <Text fw={600} id="one-time-secret-label">{label}</Text>
      <Code block aria-labelledby="one-time-secret-label" data-testid="one-time-secret" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{value}</Code>
      <Group justify="space-between">
        <CopyButton value={value}>
          {({ copied, copy }) => <Button variant="default" onClick={copy}>{copied ? 'Copied' : `Copy ${label.toLowerCase()}`}</Button>}
        </CopyButton>
        <Button onClick={onDone}>Done</Button>
      </Group>
    </Stack>
  );
}
