import { Text } from '@mantine/core';

export function OnboardingTab({ workspaceId }: { workspaceId: string }) {
  return <Text>Coming: Onboarding of {workspaceId}</Text>;
}
