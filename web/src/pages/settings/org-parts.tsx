import { Paper, Stack, Title } from '@mantine/core';
import type { ReactNode } from 'react';

/** An organization as GET /v1/organizations lists it. */
export type Organization = { id: string; name: string; plan: string; seat_limit: number | null; workspace_limit: number | null; seats_used?: number; mfa_required: boolean };

/** One part of an organization's settings, under its own heading (a named region, for screen readers and tests). */
export function Part({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md" component="section" aria-label={title}>
      <Stack>
        <Title order={4}>{title}</Title>
        {children}
      </Stack>
    </Paper>
  );
}
