import { Alert, Badge, Button, Checkbox, Code, FileInput, Stack, Text, Textarea } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, client, unwrap } from '../../api';
import { importOutcome, rowMessage, rowOk, type ImportOutcome } from '../../lib/settings';
import { DataTable } from '../common';
import { ErrorAlert, SectionHead } from './parts';

const EXAMPLE = 'workspace_id,provider,name,account_sid,auth_token\nws_…,twilio,main,AC…,…';

/**
 * Many credentials from one CSV file, as `gatehouse import credentials FILE.csv` does: every row is
 * checked first and the file lands whole or not at all. The text never leaves this section's state,
 * and the report names fields and rules only, never a value from the file.
 */
export function ImportSection() {
  const [csv, setCsv] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [dryRun, setDryRun] = useState(false);
  const run = useMutation({
    mutationFn: async (): Promise<ImportOutcome> => {
      try {
        return importOutcome(await unwrap(client.POST('/v1/credentials/import', { body: { csv, dry_run: dryRun } })), dryRun);
      } catch (err) {
        // A 400 with rows is a report; anything else (403, a file that is not CSV…) is shown as an error.
        if (err instanceof ApiError && err.status === 400) return importOutcome(err, dryRun);
        throw err;
      }
    },
    // The file held secrets: once sent, the page keeps none of it.
    onSettled: () => { setCsv(''); setFile(null); },
  });
  const pick = async (f: File | null) => {
    setFile(f);
    setCsv(f ? await f.text() : '');
  };
  const outcome = run.data;
  return (
    <Stack>
      <SectionHead title="Bulk import">Credentials for many workspaces from one CSV file: columns workspace_id, provider, name, then the provider's fields (as in the Credentials tab). Every row is checked before any is written; one bad row and nothing is imported.</SectionHead>
      <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{EXAMPLE}</Code>
      <Stack maw={720} gap="xs">
        <FileInput label="CSV file" accept=".csv,text/csv" value={file} onChange={pick} clearable />
        <Textarea label="Or paste the CSV" autosize minRows={4} maxRows={12} value={file ? '' : csv} disabled={!!file} onChange={(e) => setCsv(e.currentTarget.value)}
          styles={{ input: { fontFamily: 'monospace' } }} spellCheck={false} autoComplete="off" />
        <Checkbox label="Check only (write nothing)" checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
        <Button onClick={() => run.mutate()} disabled={!csv.trim()} loading={run.isPending} w="fit-content">Import</Button>
      </Stack>
      <ErrorAlert error={run.error} title="Nothing imported" />
      {outcome && (
        <Stack gap="xs">
          <Alert variant="outline" color={outcome.ok ? 'teal.9' : 'red.9'} role="status" title={outcome.ok ? 'Done' : 'The file was refused'}>{outcome.summary}</Alert>
          {outcome.rows.length > 0 && (
            <DataTable rows={outcome.rows} rowKey={(r) => String(r.row)} minWidth={640} columns={[
              ['Row', (r) => r.row],
              ['Workspace', (r) => r.workspace_id],
              ['Provider', (r) => r.provider],
              ['Result', (r) => (rowOk(r) ? <Badge variant="outline" color="teal.9">ok</Badge> : <Badge variant="outline" color="red.9">error</Badge>)],
              ['Message', (r) => <Text size="sm">{rowMessage(r)}</Text>],
            ]} />
          )}
        </Stack>
      )}
    </Stack>
  );
}
