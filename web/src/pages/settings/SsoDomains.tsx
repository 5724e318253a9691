import { Badge, Button, Code, Group, Stack, Table, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api';
import { queryKeys } from '../../lib/query-keys';
import { ErrorAlert } from './parts';

interface SsoDomain {
  domain: string;
  verified: boolean;
  verified_by: string | null;
  txt_record: { name: string; value: string } | null;
}

const PROVEN_BY: Record<string, string> = { dns: 'DNS record', platform_admin: 'platform admin', before_proof: 'claimed before proofs' };

/**
 * The claimed domains and their proof: until a domain's DNS holds its challenge (a TXT record),
 * nobody of it is sent to the organization's provider. Verify asks the DNS again.
 */
export function SsoDomains({ organizationId, domains }: { organizationId: string; domains: SsoDomain[] }) {
  const queries = useQueryClient();
  const verify = useMutation({
    mutationFn: (domain: string) => unwrap(client.POST('/v1/organizations/{id}/sso/domains/{domain}/verify', { params: { path: { id: organizationId, domain } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: queryKeys.sso(organizationId) }),
  });
  return (
    <Stack gap="xs">
      <Text size="sm" c="gray.8">A domain sends sign-ins to your provider once it is proven: publish its TXT record in the domain&apos;s DNS, then Verify.</Text>
      <Table withTableBorder aria-label="Single sign-on domains">
        <Table.Thead>
          <Table.Tr><Table.Th>Domain</Table.Th><Table.Th>Proof</Table.Th><Table.Th /></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {domains.map((d) => (
            <Table.Tr key={d.domain}>
              <Table.Td>{d.domain}</Table.Td>
              <Table.Td>
                {d.verified ? (
                  <Badge color="teal.9" variant="outline">Proven ({PROVEN_BY[d.verified_by ?? ''] ?? d.verified_by})</Badge>
                ) : d.txt_record ? (
                  <Stack gap={2}>
                    <Badge color="gray.8">Not proven</Badge>
                    <Text size="xs">TXT record <Code>{d.txt_record.name}</Code></Text>
                    <Text size="xs">value <Code>{d.txt_record.value}</Code></Text>
                  </Stack>
                ) : <Badge color="gray.8">Not proven: save again for a challenge</Badge>}
              </Table.Td>
              <Table.Td>
                {!d.verified && (
                  <Group justify="flex-end">
                    <Button size="xs" variant="default" loading={verify.isPending && verify.variables === d.domain} onClick={() => verify.mutate(d.domain)}
                      aria-label={`Verify ${d.domain}`}>Verify</Button>
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <ErrorAlert error={verify.error} />
    </Stack>
  );
}
