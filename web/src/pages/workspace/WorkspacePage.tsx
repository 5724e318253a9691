import { Anchor, Badge, Breadcrumbs, Group, Stack, Tabs, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ComponentType } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { client, unwrap } from '../../api';
import { WARNING_COLOR } from '../../lib/colors';
import { Loaded } from '../common';
import { ApiKeysTab } from './ApiKeys';
import { ApiLogsTab } from './ApiLogs';
import { CredentialsTab } from './Credentials';
import { InboundTab } from './Inbound';
import { OnboardingTab } from './Onboarding';
import { WebhooksTab } from './Webhooks';
import { queryKeys } from '../../lib/query-keys';

// The tab names are the contract's; the URL holds the open tab so a link can point at it.
const TABS: Array<{ slug: string; label: string; Panel: ComponentType<{ workspaceId: string }> }> = [
  { slug: 'keys', label: 'API Keys', Panel: ApiKeysTab },
  { slug: 'credentials', label: 'Credentials', Panel: CredentialsTab },
  { slug: 'webhooks', label: 'Webhooks', Panel: WebhooksTab },
  { slug: 'inbound', label: 'Inbound', Panel: InboundTab },
  { slug: 'logs', label: 'API Logs', Panel: ApiLogsTab },
  { slug: 'onboarding', label: 'Onboarding', Panel: OnboardingTab },
];

/** One workspace: its name and health, then a tab per thing it holds. */
export function WorkspacePage() {
  const { id = '', tab = 'keys' } = useParams();
  const navigate = useNavigate();
  const workspace = useQuery({ queryKey: queryKeys.workspace(id), queryFn: () => unwrap(client.GET('/v1/workspaces/{id}', { params: { path: { id } } })) });
  const health = useQuery({ queryKey: queryKeys.workspaceHealth(id), queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/health', { params: { path: { id } } })) });
  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/workspaces">Workspaces</Anchor>
        <Text>{workspace.data?.name ?? id}</Text>
      </Breadcrumbs>
      <Loaded query={workspace}>
        {(w) => (
          <Group>
            <Title order={2}>{w.name}</Title>
            {health.data && <HealthBadge status={health.data.status} />}
            {w.test_mode && <Badge color="gray.8" variant="outline">test mode</Badge>}
          </Group>
        )}
      </Loaded>
      {workspace.isSuccess && (
        <Tabs value={TABS.some((t) => t.slug === tab) ? tab : 'keys'} onChange={(v) => navigate(`/workspaces/${id}/${v}`)} keepMounted={false}>
          <Tabs.List>
            {TABS.map((t) => <Tabs.Tab key={t.slug} value={t.slug}>{t.label}</Tabs.Tab>)}
          </Tabs.List>
          {TABS.map((t) => (
            <Tabs.Panel key={t.slug} value={t.slug} pt="md">
              <t.Panel workspaceId={id} />
            </Tabs.Panel>
          ))}
        </Tabs>
      )}
    </Stack>
  );
}

const HEALTH_COLORS: Record<string, string> = { healthy: 'teal.9', degraded: WARNING_COLOR, failing: 'red.9', no_key: 'gray.8' };
export const HealthBadge = ({ status }: { status: string }) => <Badge color={HEALTH_COLORS[status] ?? 'gray.8'}>{status.replace('_', ' ')}</Badge>;
