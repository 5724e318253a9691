import { Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { ErrorNote } from '../../components/dialogs';
import { errorText } from '../../lib/settings';

/** A failed call, in words (the seat limit explained), or nothing. */
export const ErrorAlert = ({ error, title = 'That did not work' }: { error: unknown; title?: string }) => <ErrorNote error={error} title={title} text={errorText} />;

/** A section's heading and one line on what it is for. */
export function SectionHead({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap={4}>
      <Title order={3}>{title}</Title>
      <Text size="sm" c="gray.8">{children}</Text>
    </Stack>
  );
}
