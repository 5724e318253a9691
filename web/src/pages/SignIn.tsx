import { Alert, Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { ApiError, client, unwrap, type Me } from '../api';
import { signInErrorText } from '../lib/signin';

/** Email and password, then the authenticator code when the account has two-factor sign-in. */
export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [askCode, setAskCode] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await unwrap(client.POST('/v1/auth/login', { body: { email, password, ...(askCode ? { totp } : {}) } })));
    } catch (err) {
      if (err instanceof ApiError && err.details?.reason === 'totp_required') setAskCode(true);
      setError(signInErrorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center h="100vh" p="md">
      <Paper component="main" withBorder p="xl" w={380} maw="100%">
        <form onSubmit={submit}>
          <Stack>
            <Title order={2}>Sign in to Gatehouse</Title>
            {error && <Alert variant="outline" color="red.9" role="alert">{error}</Alert>}
            <TextInput label="Email" type="email" autoComplete="username" required withAsterisk={false} value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <PasswordInput label="Password" autoComplete="current-password" required withAsterisk={false} value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            {askCode && <TextInput label="Authenticator code" inputMode="numeric" autoComplete="one-time-code" value={totp} onChange={(e) => setTotp(e.currentTarget.value)} />}
            <Button type="submit" loading={busy}>Sign in</Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
