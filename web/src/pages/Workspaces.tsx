import { Alert, Anchor, Badge, Card, Group, SegmentedControl, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { client, unwrap } from '../api';
import {
  allInstances, callsToday, credentialColour, filterFleet, formatRate, HEALTH_LABELS, instancesOf, maskKey, NO_FILTER, rateColour, timeAgo, WEBHOOK_STATE, webhookState,
  type FleetFilter, type Health, type WorkspaceSummary,
} from '../lib/fleet';
import { DataTable, Loaded } from './common';
import { queryKeys } from '../lib/query-keys';

/** Every workspace this person may see, as cards or a table, filtered by instance, status and health. */
export function Workspaces() {
  const [view, setView] = useState<'grid' | 'table'>('grid');
  const [filter, setFilter] = useState<FleetFilter>(NO_FILTER);
  const set = (k: keyof FleetFilter) => (v: string | null) => setFilter((f) => ({ ...f, [k]: v ?? '' }));
  const fleet = useQuery({ queryKey: queryKeys.fleet, queryFn: async () => (await unwrap(client.GET('/v1/health/workspaces'))).data });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Workspaces</Title>
        <SegmentedControl aria-label="View" value={view} onChange={(v) => setView(v as 'grid' | 'table')} data={[{ value: 'grid', label: 'Grid' }, { value: 'table', label: 'Table' }]} />
      </Group>
      <Group align="flex-end" gap="sm">
        <TextInput label="Search" placeholder="name or id" value={filter.search} onChange={(e) => set('search')(e.currentTarget.value)} w={{ base: '100%', sm: 240 }} />
        <Select label="Instance" placeholder="any instance" clearable data={allInstances(fleet.data ?? [])} value={filter.instance || null} onChange={set('instance')} w={{ base: '100%', sm: 180 }} />
        <Select label="Status" placeholder="any status" clearable data={['active', 'inactive']} value={filter.status || null} onChange={set('status')} w={{ base: '100%', sm: 150 }} />
        <Select label="Health" placeholder="any health" clearable data={(Object.keys(HEALTH_LABELS) as Health[]).map((h) => ({ value: h, label: HEALTH_LABELS[h] }))} value={filter.health || null} onChange={set('health')} w={{ base: '100%', sm: 170 }} />
      </Group>
      <Loaded query={fleet} empty={(d) => d.length === 0}>
        {(all) => {
          const rows = filterFleet(all, filter);
          if (rows.length === 0) return <Alert variant="outline" color="gray.9" title="No workspace matches">Change the search or the filters.</Alert>;
          return (
            <>
              <Text size="sm" aria-live="polite">{rows.length} of {all.length} workspaces</Text>
              {view === 'grid' ? <Grid rows={rows} /> : <FleetTable rows={rows} />}
            </>
          );
        }}
      </Loaded>
    </Stack>
  );
}

const WorkspaceLink = ({ w }: { w: WorkspaceSummary }) => <Anchor component={Link} to={`/workspaces/${w.id}`} fw={600}>{w.name}</Anchor>;
const HealthDot = ({ w }: { w: WorkspaceSummary }) => <Badge color={credentialColour(w.health)}>{HEALTH_LABELS[w.health]}</Badge>;
const WebhookBadge = ({ w }: { w: WorkspaceSummary }) => {
  const s = WEBHOOK_STATE[webhookState(w)];
  return <Badge variant="outline" color={s.color}>{s.label}</Badge>;
};
const Calls = ({ w }: { w: WorkspaceSummary }) => {
  const { calls, rate } = callsToday(w);
  return <>{calls} {calls > 0 && <Text span size="xs" c={rateColour(rate)}>({formatRate(rate)} ok)</Text>}</>;
};
const KeyText = ({ w }: { w: WorkspaceSummary }) => (w.key ? <Text span size="sm" ff="monospace">{maskKey(w.key.start)}</Text> : <Text span size="sm" c="gray.8">no key</Text>);
const instanceText = (w: WorkspaceSummary) => instancesOf(w).join(', ') || '—';

function Grid({ rows }: { rows: WorkspaceSummary[] }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} role="list" aria-label="Workspaces">
      {rows.map((w) => (
        <Card key={w.id} withBorder role="listitem" aria-label={w.name} style={{ borderLeft: `4px solid var(--mantine-color-${credentialColour(w.health).replace('.', '-')})` }}>
          <Group justify="space-between" wrap="nowrap">
            <WorkspaceLink w={w} />
            <HealthDot w={w} />
          </Group>
          <Text size="xs" c="gray.8">{w.status}{w.test_mode ? ' · test mode' : ''} · {instanceText(w)}</Text>
          <SimpleGrid cols={2} spacing={4} mt="sm" component="dl" style={{ margin: 0 }}>
            <Fact term="Gatehouse key"><KeyText w={w} /></Fact>
            <Fact term="Last used">{timeAgo(w.key?.last_used_at)}</Fact>
            <Fact term="Calls today"><Calls w={w} /></Fact>
            <Fact term="Webhooks"><WebhookBadge w={w} /></Fact>
            <Fact term="Last event">{timeAgo(w.last_event_at)}</Fact>
          </SimpleGrid>
        </Card>
      ))}
    </SimpleGrid>
  );
}

function Fact({ term, children }: { term: string; children: React.ReactNode }) {
  return (
    <div>
      <Text component="dt" size="xs" c="gray.8">{term}</Text>
      <Text component="dd" size="sm" m={0}>{children}</Text>
    </div>
  );
}

function FleetTable({ rows }: { rows: WorkspaceSummary[] }) {
  return (
    <DataTable rows={rows} rowKey={(w) => w.id} minWidth={1000} columns={[
      ['Name', (w) => <WorkspaceLink w={w} />],
      ['Instance', instanceText],
      ['Credentials', (w) => <HealthDot w={w} />],
      ['Gatehouse key', (w) => <KeyText w={w} />],
      ['Last used', (w) => timeAgo(w.key?.last_used_at)],
      ['Calls today', (w) => <Calls w={w} />],
      ['Webhooks', (w) => <WebhookBadge w={w} />],
      ['Last event', (w) => timeAgo(w.last_event_at)],
      ['Status', (w) => <Badge variant="outline" color={w.status === 'active' ? 'teal.9' : 'gray.8'}>{w.status}</Badge>],
    ]} />
  );
}
