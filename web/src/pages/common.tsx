import { Alert, Center, Loader } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';

/** Loading, error and empty states the same way on every page. */
export function Loaded<T>({ query, empty, children }: { query: UseQueryResult<T>; empty?: (data: T) => boolean; children: (data: T) => ReactNode }) {
  if (query.isPending) return <Center p="xl"><Loader role="status" aria-label="Loading" /></Center>;
  if (query.isError) return <Alert variant="outline" color="red.9" title="Could not load this">{(query.error as Error).message}</Alert>;
  if (empty?.(query.data)) return <Alert variant="outline" color="gray.9" title="Nothing here yet">There is nothing to show.</Alert>;
  return <>{children(query.data)}</>;
}
