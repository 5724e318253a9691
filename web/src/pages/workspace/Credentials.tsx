import { Badge, Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { instancesQuery } from '../../lib/instances';
import { client, unwrap } from '../../api';
import { credentialStatus, sections, STATUS_COLORS, type CatalogProvider, type StoredCredential } from '../../lib/credentials';
import { Loaded } from '../common';
import { CredentialForm } from './CredentialForm';
import { queryKeys } from '../../lib/query-keys';


interface Health { provider: string; status: string; consecutive_failures: number }

/** One form per provider, from the catalog; a stored secret is only ever shown masked. */
export function CredentialsTab({ workspaceId }: { workspaceId: string }) {
  const path = { params: { path: { id: workspaceId } } };
  const catalog = useQuery({ queryKey: queryKeys.providers, queryFn: () => unwrap(client.GET('/v1/providers')), staleTime: 5 * 60_000 });
  const stored = useQuery({ queryKey: queryKeys.credentials(workspaceId), queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/credentials', path)) });
  const health = useQuery({ queryKey: queryKeys.workspaceHealth(workspaceId), queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/health', path)) });
  const instances = useQuery(instancesQuery);

  return (
    <Loaded query={catalog}>
      {({ data: providers }) => (
      <Loaded query={stored}>
      {({ data: creds }) => {
        const byProvider = new Map(creds.map((c) => [c.provider, c]));
        const props = (p: CatalogProvider) => ({
          workspaceId,
          provider: p,
          stored: byProvider.get(p.id),
          health: health.data?.providers.find((h) => h.provider === p.id),
          instances: (instances.data?.data ?? []).filter((i) => i.provider === p.id),
        });
        return (
          <Stack>
            <Text size="sm" c="gray.8">
              Each workspace calls providers with its own credentials. Secrets are stored encrypted and shown only masked; leave a secret blank to keep the stored one.
            </Text>
            <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            {sections(providers).map((s) =>
              s.kind === 'single' ? (
                <ProviderCard key={s.provider.id} title={s.provider.name} description={s.provider.description} status={<StatusBadge {...props(s.provider)} />}>
                  <CredentialForm {...props(s.provider)} />
                </ProviderCard>
              ) : (
                <SmsCard key="sms" providers={s.providers} props={props} />
              ),
            )}
            </SimpleGrid>
          </Stack>
        );
      }}
      </Loaded>
      )}
    </Loaded>
  );
}

type FormProps = { workspaceId: string; provider: CatalogProvider; stored?: StoredCredential; health?: Health; instances: Array<{ id: string; name: string }> };

/** The SMS providers share a card: the selector starts on the one the workspace already has. */
function SmsCard({ providers, props }: { providers: CatalogProvider[]; props: (p: CatalogProvider) => FormProps }) {
  const [chosen, setChosen] = useState(() => (providers.find((p) => props(p).stored) ?? providers[0]).id);
  const provider = providers.find((p) => p.id === chosen) ?? providers[0];
  const stored = providers.filter((p) => props(p).stored).map((p) => p.name);
  return (
    <ProviderCard title="SMS" description={stored.length ? `Stored: ${stored.join(', ')}` : 'Twilio, Vonage or AWS SNS.'} status={<StatusBadge {...props(provider)} />}>
      <SegmentedControl aria-label="SMS provider" value={chosen} onChange={setChosen} data={providers.map((p) => ({ value: p.id, label: p.name }))} fullWidth />
      <Text size="sm" c="gray.8">{provider.description}</Text>
      <CredentialForm key={provider.id} {...props(provider)} />
    </ProviderCard>
  );
}

function ProviderCard({ title, description, status, children }: { title: string; description: string; status: ReactNode; children: ReactNode }) {
  return (
    <Paper component="section" aria-label={title} withBorder p="md">
      <Stack gap="sm">
        <Group justify="space-between" wrap="nowrap">
          <Title order={3} size="h4">{title}</Title>
          {status}
        </Group>
        <Text size="sm" c="gray.8">{description}</Text>
        {children}
      </Stack>
    </Paper>
  );
}

function StatusBadge({ provider, stored, health }: FormProps) {
  const status = credentialStatus(stored, health);
  return <Badge color={STATUS_COLORS[status]} aria-label={`${provider.name}: ${status}`}>{status}</Badge>;
}
