import { Badge, Code, Modal, Stack, Table, Text } from '@mantine/core';
import { diffAudit, type Change } from '../lib/audit';
import { formatWhen } from '../lib/time';

export interface AuditEntry {
  seq: number; id: string; at: string; workspace_id: string | null;
  actor: { type: string; id: string | null; ip: string | null; user_agent: string | null; request_id: string | null };
  action: string; category: string; severity: string; outcome: string; hash: string;
  resource: { type: string; id: string | null } | null;
  before: unknown; after: unknown;
}

const CHANGE_COLORS: Record<Change, string> = { added: 'teal.9', removed: 'red.9', changed: 'blue.9', same: 'gray.8' };

/** One entry in full: who, from where, and each field before and after the change. */
export function AuditDiffDialog({ entry, actor, onClose }: { entry: AuditEntry | null; actor: string; onClose: () => void }) {
  const rows = entry ? diffAudit(entry.before, entry.after) : [];
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={entry !== null} onClose={onClose} title={entry ? `${entry.action} · ${formatWhen(entry.at, '', true)}` : ''} size="xl">
      {entry && (
        <Stack>
          <Text size="sm">
            By <strong>{actor}</strong>{entry.actor.ip ? ` from ${entry.actor.ip}` : ''}
            {entry.resource ? <> on <code>{entry.resource.type} {entry.resource.id ?? ''}</code></> : null}; outcome {entry.outcome}, severity {entry.severity}.
          </Text>
          {entry.actor.request_id && <Text size="xs" c="gray.8">Request {entry.actor.request_id}</Text>}
          {rows.length === 0 ? (
            <Text size="sm" c="gray.8">This entry records no before or after state.</Text>
          ) : (
            <Table.ScrollContainer minWidth={560}>
              <Table striped aria-label="Changes">
                <Table.Thead>
                  <Table.Tr><Table.Th>Field</Table.Th><Table.Th>Before</Table.Th><Table.Th>After</Table.Th><Table.Th>Change</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((r) => (
                    <Table.Tr key={r.path}>
                      <Table.Td><code>{r.path}</code></Table.Td>
                      <Table.Td><Value text={r.before} /></Table.Td>
                      <Table.Td><Value text={r.after} /></Table.Td>
                      <Table.Td><Badge variant="outline" color={CHANGE_COLORS[r.change]}>{r.change}</Badge></Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          <Text size="xs" c="gray.8" style={{ wordBreak: 'break-all' }}>Entry {entry.id} · chain hash {entry.hash}</Text>
        </Stack>
      )}
    </Modal>
  );
}

const Value = ({ text }: { text?: string }) =>
  text === undefined ? <Text size="sm" c="gray.8">–</Text> : <Code style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{text}</Code>;
