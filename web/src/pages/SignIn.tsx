import { Alert, Anchor, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { ApiError, client, unwrap, type Me } from '../api';
import { signInErrorText, ssoErrorText } from '../lib/signin';

// A single sign-on that came back here says why in the address (`/?sso_error=<reason>`).
const ssoErrorOnArrival = () => {
  const reason = new URLSearchParams(window.location.search).get('sso_error');
  return reason ? ssoErrorText(reason) : null;
};

/**
 * Email and password, then the authenticator code when the account has two-factor sign-in; or the
 * email alone, through the organization's identity provider (a full-page redirect to the provider).
 */
export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [askCode, setAskCode] = useState(false);
  // A lost authenticator: one of the recovery codes shown when two-factor sign-in was turned on.
  const [useRecovery, setUseRecovery] = useState(false);
  const [recoveryCode, setRecoveryCode] = useState('');
  const [error, setError] = useState<string | null>(ssoErrorOnArrival);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await unwrap(client.POST('/v1/auth/login', { body: { email, password, ...(askCode ? (useRecovery ? { recovery_code: recoveryCode } : { totp }) : {}) } })));
    } catch (err) {
      if (err instanceof ApiError && err.details?.reason === 'totp_required') setAskCode(true);
      setError(signInErrorText(err));
    } finally {
      setBusy(false);
    }
  };

  const signInWithSso = () => {
    if (!email.includes('@')) {
      setError('Enter your work email address, then choose Sign in with SSO.');
      return;
    }
    window.location.assign(`/v1/auth/sso/start?email=${encodeURIComponent(email)}`);
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
            {askCode && !useRecovery && <TextInput label="Authenticator code" inputMode="numeric" autoComplete="one-time-code" value={totp} onChange={(e) => setTotp(e.currentTarget.value)} />}
            {askCode && useRecovery && <TextInput label="Recovery code" autoComplete="off" value={recoveryCode} onChange={(e) => setRecoveryCode(e.currentTarget.value)} />}
            <Button type="submit" loading={busy}>Sign in</Button>
            {askCode && (
              <Anchor component="button" type="button" size="sm" onClick={() => setUseRecovery((v) => !v)}>
                {useRecovery ? 'Use the authenticator code' : 'Use a recovery code instead'}
              </Anchor>
            )}
            <Anchor component={Link} to="/forgot-password" size="sm">Forgot password?</Anchor>
            <Text ta="center" size="sm">or, with your work email alone</Text>
            <Button type="button" variant="default" onClick={signInWithSso}>Sign in with SSO</Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
