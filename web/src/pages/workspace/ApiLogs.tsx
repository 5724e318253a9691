import { Text } from '@mantine/core';

export function ApiLogsTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: ApiLogs of {workspaceId}</Text>;
}
