import { Text } from '@mantine/core';

export function WebhooksTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: Webhooks of {workspaceId}</Text>;
}
