import { Group, Modal, SimpleGrid, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { client, unwrap } from '../../api';
import { dayLabel, formatWhen } from '../../lib/apiKeys';
import { Loaded } from '../common';
import type { ApiKey } from './KeyDialogs';
import { queryKeys } from '../../lib/query-keys';

/** Requests per day over the last 30 days, with the last use and where it came from. */
export function KeyUsageDialog({ apiKey, onClose }: { apiKey: ApiKey | null; onClose: () => void }) {
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={apiKey !== null} onClose={onClose} title={`Usage of “${apiKey?.name ?? ''}”`} size="xl">
      {apiKey && <KeyUsage keyId={apiKey.id} />}
    </Modal>
  );
}

function KeyUsage({ keyId }: { keyId: string }) {
  const usage = useQuery({
    queryKey: queryKeys.apiKeyUsage(keyId),
    queryFn: () => unwrap(client.GET('/v1/api-keys/{id}/usage', { params: { path: { id: keyId }, query: { days: 30 } } })),
  });
  return (
    <Loaded query={usage}>
      {(u) => (
        <Stack>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <Fact label="Requests (30 days)" value={u.total_requests.toLocaleString('en')} />
            <Fact label="Last used" value={formatWhen(u.last_used_at)} />
            <Fact label="Last IP" value={u.last_used_ip ?? '–'} />
          </SimpleGrid>
          <Text size="sm" c="gray.8">Counts are batched and can be a few seconds behind.</Text>
          <div role="img" aria-label={`Requests per day: ${u.total_requests} in the last ${u.days.length} days`} style={{ width: '100%', height: 240 }}>
            <ResponsiveContainer>
              <BarChart data={u.days.map((d) => ({ ...d, label: dayLabel(d.day) }))} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="label" tick={{ fontSize: 11 }} interval="preserveStartEnd" minTickGap={16} />
                <YAxis allowDecimals={false} width={40} tick={{ fontSize: 11 }} />
                <Tooltip />
                <Bar dataKey="requests" name="Requests" fill="var(--mantine-color-blue-8)" />
              </BarChart>
            </ResponsiveContainer>
          </div>
        </Stack>
      )}
    </Loaded>
  );
}

const Fact = ({ label, value }: { label: string; value: string }) => (
  <Group gap={4} wrap="nowrap" align="baseline">
    <Text size="sm" c="gray.8">{label}:</Text>
    <Text size="sm" fw={500}>{value}</Text>
  </Group>
);
