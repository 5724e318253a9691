import { Card, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { DataTable, Loaded } from './common';

type Status = 'healthy' | 'degraded' | 'failing' | 'no_key';
interface Summary { total: number; counts: Record<Status, number>; percentages: Record<Status, number> }
interface Coverage { workspaces: number; providers: Array<{ provider: string; with_credential: number; without_credential: number; coverage_pct: number }> }

const LABELS: Record<Status, string> = { healthy: 'Healthy', degraded: 'Degraded', failing: 'Failing', no_key: 'No key' };
const COLORS: Record<Status, string> = { healthy: 'teal.9', degraded: 'orange.9', failing: 'red.9', no_key: 'gray.8' };

/** The health of every workspace at a glance: failing first. */
export function Overview() {
  const summary = useQuery({ queryKey: ['health-summary'], queryFn: () => api<Summary>('GET', '/v1/health/summary') });
  const coverage = useQuery({ queryKey: ['coverage'], queryFn: () => api<Coverage>('GET', '/v1/coverage') });
  return (
    <Stack>
      <Title order={2}>Overview</Title>
      <Loaded query={summary}>
        {(s) => (
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            {(['failing', 'degraded', 'no_key', 'healthy'] as Status[]).map((k) => (
              <Card key={k} withBorder>
                <Text size="sm">{LABELS[k]}</Text>
                <Text size="xl" fw={700} c={COLORS[k]}>{s.counts[k]}</Text>
                <Text size="xs">{s.percentages[k]}% of {s.total} workspaces</Text>
              </Card>
            ))}
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
          ]} />
        )}
      </Loaded>
    </Stack>
  );
}
