import { Alert, Anchor, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { client, unwrap } from '../api';
import { signInErrorText } from '../lib/signin';

function Card({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Center h="100vh" p="md">
      <Paper component="main" withBorder p="xl" w={380} maw="100%">
        <Stack>
          <Title order={2}>{title}</Title>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

const backToSignIn = <Anchor component={Link} to="/">Back to sign-in</Anchor>;

/** Asks for a reset link; the answer is the same whether or not the address has an account. */
export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setSent((await unwrap(client.POST('/v1/auth/password-reset', { body: { email } }))).message);
    } catch (err) {
      setError(signInErrorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Reset your password">
      {sent ? (
        <>
          <Alert variant="outline" color="teal.9" role="status">{sent[0]?.toUpperCase()}{sent.slice(1)}. The link works for an hour.</Alert>
          <Text size="sm">No email? Your administrator can set a new password for you.</Text>
        </>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            {error && <Alert variant="outline" color="red.9" role="alert">{error}</Alert>}
            <Text size="sm">Enter the email you sign in with: we send a link to set a new password.</Text>
            <TextInput label="Email" type="email" autoComplete="username" required withAsterisk={false} value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <Button type="submit" loading={busy}>Send reset link</Button>
          </Stack>
        </form>
      )}
      {backToSignIn}
    </Card>
  );
}

/** The emailed link's page: a new password for the token in the address. */
export function ResetPassword({ onReset }: { onReset: () => void }) {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (password.length < 12) return setError('Use at least 12 characters.');
    if (password !== repeat) return setError('The two passwords differ.');
    setBusy(true);
    try {
      await unwrap(client.POST('/v1/auth/password-reset/confirm', { body: { token, password } }));
      setDone(true);
      // Every session of the person ended with the reset, this browser's included.
      onReset();
    } catch (err) {
      setError(signInErrorText(err));
    } finally {
      setBusy(false);
    }
  };
  if (!token) return <Card title="Set a new password"><Alert variant="outline" color="red.9" role="alert">This page needs the link from the email.</Alert>{backToSignIn}</Card>;
  return (
    <Card title="Set a new password">
      {done ? (
        <>
          <Alert variant="outline" color="teal.9" role="status">Your password is set, and you were signed out everywhere. Sign in with the new password.</Alert>
          <Anchor component={Link} to="/">Sign in</Anchor>
        </>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            {error && <Alert variant="outline" color="red.9" role="alert">{error}</Alert>}
            <PasswordInput label="New password" description="At least 12 characters" autoComplete="new-password" required withAsterisk={false} value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <PasswordInput label="Repeat new password" autoComplete="new-password" required withAsterisk={false} value={repeat} onChange={(e) => setRepeat(e.currentTarget.value)} />
            <Button type="submit" loading={busy}>Set password</Button>
          </Stack>
        </form>
      )}
    </Card>
  );
}
