import { Card, Group, Stack, Text } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { DataTable } from './common';

type Column<T> = [string, (row: T) => ReactNode];

/**
 * A table on a wide screen; on a phone, one card per row with the same columns as labelled
 * lines, so nothing hides behind a sideways scroll (actions included).
 */
export function ResponsiveTable<T>({ rows, columns, rowKey, rowLabel, minWidth }: {
  rows: T[]; columns: Column<T>[]; rowKey: (row: T) => string; rowLabel: (row: T) => string; minWidth?: number;
}) {
  const phone = useMediaQuery('(max-width: 48em)');
  if (!phone) return <DataTable rows={rows} columns={columns} rowKey={rowKey} minWidth={minWidth} />;
  return (
    <Stack role="list" gap="sm">
      {rows.map((row) => (
        <Card key={rowKey(row)} withBorder role="listitem" aria-label={rowLabel(row)} padding="sm">
          <Stack gap={6}>
            {columns.map(([title, cell]) => (
              <Group key={title} gap="xs" wrap="nowrap" align="flex-start">
                <Text size="sm" c="gray.8" w={120} style={{ flexShrink: 0 }}>{title}</Text>
                <Text component="div" size="sm" style={{ minWidth: 0, overflowWrap: 'anywhere' }}>{cell(row)}</Text>
              </Group>
            ))}
          </Stack>
        </Card>
      ))}
    </Stack>
  );
}
