import { Alert, Button, Code, Group, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type Me } from '../api';

/** The signed-in person: who they are, and two-factor sign-in. */
export function Settings({ me }: { me: Me }) {
  const queries = useQueryClient();
  const [url, setUrl] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const enroll = async () => {
    setMessage(null);
    try {
      setUrl((await api<{ otpauth_url: string }>('POST', '/v1/auth/mfa/enroll')).otpauth_url);
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message });
    }
  };
  const confirm = async () => {
    try {
      await api('POST', '/v1/auth/mfa/confirm', { code });
      setMessage({ ok: true, text: 'Two-factor sign-in is on: sign-in asks for a code from now on.' });
      setUrl(null);
      await queries.invalidateQueries({ queryKey: ['me'] });
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <Stack maw={640}>
      <Title order={2}>Settings</Title>
      <Text>{me.user.name} · {me.user.email}{me.user.platform_admin ? ' · platform admin' : ''}</Text>
      <Title order={3}>Two-factor sign-in</Title>
      {me.user.mfa_required && <Alert variant="outline" color="red.9" title="Required by your organization">Set up two-factor sign-in to continue.</Alert>}
      {message && <Alert variant="outline" color={message.ok ? 'teal.9' : 'red.9'} role="status">{message.text}</Alert>}
      {me.user.mfa_enabled ? (
        <Text>On.</Text>
      ) : url ? (
        <Stack>
          <Text size="sm">Add this to your authenticator app (most accept the link or its secret), then enter the code it shows.</Text>
          <Code block>{url}</Code>
          <Group align="end">
            <TextInput label="Code" inputMode="numeric" value={code} onChange={(e) => setCode(e.currentTarget.value)} />
            <Button onClick={confirm}>Turn on</Button>
          </Group>
        </Stack>
      ) : (
        <Button onClick={enroll} w="fit-content">Set up two-factor sign-in</Button>
      )}
    </Stack>
  );
}
