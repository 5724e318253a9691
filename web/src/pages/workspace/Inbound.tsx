import { Text } from '@mantine/core';

export function InboundTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: Inbound of {workspaceId}</Text>;
}
