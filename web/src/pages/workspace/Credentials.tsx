import { Text } from '@mantine/core';

export function CredentialsTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: Credentials of {workspaceId}</Text>;
}
