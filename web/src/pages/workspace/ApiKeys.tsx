import { Text } from '@mantine/core';

export function ApiKeysTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: ApiKeys of {workspaceId}</Text>;
}
