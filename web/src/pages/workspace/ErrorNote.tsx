import { Alert } from '@mantine/core';
import { ApiError } from '../../api';

/** The server's own sentence for a refused change (ApiError.message), in an alert. */
export function ErrorNote({ error, title = 'Not done' }: { error: unknown; title?: string }) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  return <Alert variant="outline" color="red.9" title={title} role="alert">{message}</Alert>;
}
