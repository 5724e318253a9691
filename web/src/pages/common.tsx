import { Alert, Center, Loader, Table } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';

/** Loading, error and empty states the same way on every page. */
export function Loaded<T>({ query, empty, children }: { query: UseQueryResult<T>; empty?: (data: T) => boolean; children: (data: T) => ReactNode }) {
  if (query.isPending) return <Center p="xl"><Loader role="status" aria-label="Loading" /></Center>;
  if (query.isError) return <Alert variant="outline" color="red.9" title="Could not load this">{(query.error as Error).message}</Alert>;
  if (empty?.(query.data)) return <Alert variant="outline" color="gray.9" title="Nothing here yet">There is nothing to show.</Alert>;
  return <>{children(query.data)}</>;
}

/** A scrollable table: a header row, then one row per item, each cell rendered by its column. */
export function DataTable<T>({ rows, columns, rowKey, minWidth = 500 }: { rows: T[]; columns: Array<[string, (row: T) => ReactNode]>; rowKey: (row: T) => string; minWidth?: number }) {
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table striped>
        <Table.Thead>
          <Table.Tr>{columns.map(([title]) => <Table.Th key={title}>{title}</Table.Th>)}</Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => (
            <Table.Tr key={rowKey(row)}>{columns.map(([title, cell]) => <Table.Td key={title}>{cell(row)}</Table.Td>)}</Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
