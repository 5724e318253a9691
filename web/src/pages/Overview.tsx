import { Alert, Anchor, Badge, Card, Group, List, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { client, unwrap } from '../api';
import { formatRate, needsAttention, rateColour, webhookRate24h } from '../lib/fleet';
import { DataTable, Loaded } from './common';
import { WARNING_COLOR } from '../lib/colors';
import { queryKeys } from '../lib/query-keys';

type Status = 'healthy' | 'degraded' | 'failing' | 'no_key';

const LABELS: Record<Status, string> = { healthy: 'Healthy', degraded: 'Degraded', failing: 'Failing', no_key: 'No key' };
const COLORS: Record<Status, string> = { healthy: 'teal.9', degraded: WARNING_COLOR, failing: 'red.9', no_key: 'gray.8' };
const TAB_LABELS = { credentials: 'Credentials', webhooks: 'Webhooks', inbound: 'Inbound' } as const;

const pct = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10);

/** The health of every workspace at a glance: what needs attention first. */
export function Overview() {
  const summary = useQuery({ queryKey: queryKeys.healthSummary, queryFn: () => unwrap(client.GET('/v1/health/summary')) });
  const coverage = useQuery({ queryKey: queryKeys.coverage, queryFn: () => unwrap(client.GET('/v1/coverage')) });
  const fleet = useQuery({ queryKey: queryKeys.fleet, queryFn: async () => (await unwrap(client.GET('/v1/health/workspaces'))).data });
  return (
    <Stack>
      <Title order={2}>Overview</Title>
      <Title order={3}>Needs attention</Title>
      <Loaded query={fleet}>
        {(list) => {
          const items = needsAttention(list);
          if (items.length === 0) return <Alert variant="outline" color="teal.9" title="All clear">No failing credential, failing endpoint or silent inbound source.</Alert>;
          return (
            <List spacing="xs" listStyleType="none" aria-label="Needs attention" pl={0}>
              {items.map((i) => (
                <List.Item key={i.key}>
                  <Group gap="xs" wrap="nowrap" align="baseline">
                    <Badge color={i.severity === 'failing' ? 'red.9' : WARNING_COLOR} miw={80}>{i.severity}</Badge>
                    <Text size="sm">
                      <Anchor component={Link} to={`/workspaces/${i.workspaceId}/${i.tab}`} fw={600}>{i.workspaceName}</Anchor>
                      {': '}{i.text} <Text span size="xs" c="gray.8">({TAB_LABELS[i.tab]})</Text>
                    </Text>
                  </Group>
                </List.Item>
              ))}
            </List>
          );
        }}
      </Loaded>
      <Loaded query={summary}>
        {(s) => (
          <SimpleGrid cols={{ base: 2, md: 5 }}>
            {(['failing', 'degraded', 'no_key', 'healthy'] as Status[]).map((k) => (
              <Card key={k} withBorder>
                <Text size="sm">{LABELS[k]}</Text>
                <Text size="xl" fw={700} c={COLORS[k]}>{s.counts[k]}</Text>
                <Text size="xs">{s.percentages[k]}% of {s.total} workspaces</Text>
              </Card>
            ))}
            <WebhookRateCard list={fleet.data} />
          </SimpleGrid>
        )}
      </Loaded>
      <Title order={3}>Credential coverage</Title>
      <Loaded query={coverage}>
        {(c) => (
          <DataTable minWidth={400} rows={c.providers} rowKey={(p) => p.provider} columns={[
            ['Provider', (p) => p.provider],
            ['With a credential', (p) => p.with_credential],
            ['Without', (p) => p.without_credential],
            ['Coverage', (p) => `${p.coverage_pct}%`],
            // Providers with several deployments (two agencies' Email Bison): how many workspaces use each.
            ['By instance', (p) => p.instances.length === 0 ? '—' : p.instances.map((i) => `${i.name}: ${i.with_credential} (${pct(i.with_credential, p.workspaces)}%)`).join(' · ')],
          ]} />
        )}
      </Loaded>
    </Stack>
  );
}

/** Outbound webhook deliveries in the last 24 hours, across every workspace shown. */
function WebhookRateCard({ list }: { list: Parameters<typeof webhookRate24h>[0] | undefined }) {
  const r = list ? webhookRate24h(list) : null;
  const colour = rateColour(r?.rate ?? null);
  return (
    <Card withBorder aria-label="Webhook success rate, last 24 h">
      <Text size="sm">Webhook success (24 h)</Text>
      <Text size="xl" fw={700} c={colour}>{r ? formatRate(r.rate) : '…'}</Text>
      <Text size="xs">{r ? `${r.succeeded} delivered, ${r.failed} failed attempts` : 'loading'}</Text>
    </Card>
  );
}
