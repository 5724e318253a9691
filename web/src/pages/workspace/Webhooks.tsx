import { Tabs } from '@mantine/core';
import { Analytics } from './webhooks/Analytics';
import { DeadLetters } from './webhooks/DeadLetters';
import { Endpoints } from './webhooks/Endpoints';

/** Outbound webhooks: the endpoints, what failed for good, and how deliveries are going. */
export function WebhooksTab({ workspaceId }: { workspaceId: string }) {
  return (
    <Tabs defaultValue="endpoints" variant="pills" keepMounted={false}>
      <Tabs.List mb="md">
        <Tabs.Tab value="endpoints">Endpoints</Tabs.Tab>
        <Tabs.Tab value="dead">Dead letters</Tabs.Tab>
        <Tabs.Tab value="analytics">Analytics</Tabs.Tab>
      </Tabs.List>
      <Tabs.Panel value="endpoints"><Endpoints workspaceId={workspaceId} /></Tabs.Panel>
      <Tabs.Panel value="dead"><DeadLetters workspaceId={workspaceId} /></Tabs.Panel>
      <Tabs.Panel value="analytics"><Analytics workspaceId={workspaceId} /></Tabs.Panel>
    </Tabs>
  );
}
