import { Alert, Anchor, Button, Center, Loader, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { client, unwrap } from '../api';
import { ErrorNote } from '../components/dialogs';
import { LINK_PROBLEM_TEXT, linkProblemOf, ORG_ROLE_LABELS, tokenFromSearch, type InvitationLookup } from '../lib/organization';
import { queryKeys } from '../lib/query-keys';
import { formatWhen } from '../lib/time';

const MIN_PASSWORD = 12;

/**
 * The page an invitation's link opens (`/accept-invitation?token=…`), signed in or not: what the
 * invitation is for, then a name and password for a new account, or an existing account's own
 * password (whoever passed the link on holds it too; the person then signs in as usual). A used, expired, revoked or unknown link says which.
 */
export function AcceptInvitation({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const token = tokenFromSearch(useLocation().search);
  const lookup = useQuery({
    queryKey: queryKeys.invitationLookup(token),
    queryFn: () => unwrap(client.GET('/v1/invitations/lookup', { params: { query: { token: token ?? '' } } })),
    enabled: token !== null,
  });
  let body: ReactNode;
  if (token === null) body = <LinkProblem problem="unknown" />;
  else if (lookup.isPending) body = <Center p="md"><Loader role="status" aria-label="Loading" /></Center>;
  else if (lookup.isError) {
    const problem = linkProblemOf(lookup.error);
    body = problem ? <LinkProblem problem={problem} /> : <ErrorNote error={lookup.error} title="The invitation could not be read" />;
  } else body = <AcceptForm token={token} invitation={lookup.data} onSignedIn={onSignedIn} />;
  return (
    <Center mih="100vh" p="md">
      <Paper component="main" withBorder p="xl" w={440} maw="100%">
        <Stack>
          <Title order={2}>Join an organization on Gatehouse</Title>
          {body}
        </Stack>
      </Paper>
    </Center>
  );
}

function LinkProblem({ problem }: { problem: keyof typeof LINK_PROBLEM_TEXT }) {
  const { title, text } = LINK_PROBLEM_TEXT[problem];
  return (
    <Stack>
      <Alert variant="outline" color="red.9" title={title} role="alert">{text}</Alert>
      <Anchor href="/">Go to the sign-in page</Anchor>
    </Stack>
  );
}

function AcceptForm({ token, invitation, onSignedIn }: { token: string; invitation: InvitationLookup; onSignedIn: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [tooShort, setTooShort] = useState(false);
  const [viaSso, setViaSso] = useState(false);
  const ssoStart = `/v1/auth/sso/start?email=${encodeURIComponent(invitation.email)}`;
  // Accepted for single sign-on, the page goes on to the organization's provider, which signs the person in.
  const accept = useMutation({
    mutationFn: (body: { token: string; name?: string; password?: string }) => unwrap(client.POST('/v1/invitations/accept', { body })),
    // Signed in as the new account: the mutation stays pending until the portal has read who that is.
    onSuccess: (done) => (done.signed_in ? onSignedIn() : undefined),
  });
  const problem = accept.isError ? linkProblemOf(accept.error) : null;
  if (problem) return <LinkProblem problem={problem} />;
  if (accept.isSuccess && !accept.data.signed_in && !viaSso) {
    return (
      <Stack>
        <Alert variant="outline" color="teal.9" title="Invitation accepted" role="status">
          {`You are now in ${invitation.organization.name}. Sign in as ${invitation.email} to open it.`}
        </Alert>
        <Button component="a" href="/" w="fit-content">Go to sign in</Button>
      </Stack>
    );
  }
  const newViaSso = !invitation.existing_account && invitation.sso.available;
  const acceptViaSso = () => {
    setViaSso(true);
    accept.mutate({ token, name: name.trim() || invitation.email }, { onSuccess: () => window.location.assign(ssoStart) });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (invitation.sso.enforced && !invitation.existing_account) return acceptViaSso();
    if (!invitation.existing_account && password.length < MIN_PASSWORD) {
      setTooShort(true);
      return;
    }
    accept.mutate(invitation.existing_account ? { token, password } : { token, name: name.trim(), password });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <Text>
          You are invited to <strong>{invitation.organization.name}</strong> as <strong>{ORG_ROLE_LABELS[invitation.role] ?? invitation.role}</strong>.
        </Text>
        <Text size="sm">Email: <strong>{invitation.email}</strong></Text>
        <Text size="sm" c="gray.8">This invitation expires {formatWhen(invitation.expires_at)}.</Text>
        {invitation.existing_account ? (
          <>
            <Text size="sm">You already have a Gatehouse account with this email: enter its password to accept, then sign in with it.</Text>
            <PasswordInput label="Your password" autoComplete="current-password" required withAsterisk={false} value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
          </>
        ) : (
          <>
            <TextInput label="Name" autoComplete="name" required withAsterisk={false} value={name} onChange={(e) => setName(e.currentTarget.value)} />
            {invitation.sso.enforced ? (
              <Text size="sm">Your organization signs you in through its identity provider: no Gatehouse password is needed.</Text>
            ) : <PasswordInput label="Password" description={`At least ${MIN_PASSWORD} characters.`} autoComplete="new-password" required withAsterisk={false}
              value={password} onChange={(e) => { setPassword(e.currentTarget.value); setTooShort(false); }}
              error={tooShort ? `Use at least ${MIN_PASSWORD} characters` : undefined} />}
          </>
        )}
        <ErrorNote error={accept.error} title="Not accepted" />
        {!invitation.sso.enforced || invitation.existing_account ? (
          <Button type="submit" loading={!viaSso && (accept.isPending || (accept.isSuccess && accept.data.signed_in))}>
            {invitation.existing_account ? 'Accept' : 'Create account and join'}
          </Button>
        ) : null}
        {newViaSso ? (
          <Button type={invitation.sso.enforced ? 'submit' : 'button'} variant={invitation.sso.enforced ? 'filled' : 'default'} loading={viaSso && (accept.isPending || accept.isSuccess)}
            onClick={invitation.sso.enforced ? undefined : acceptViaSso}>
            Accept and sign in with SSO
          </Button>
        ) : null}
      </Stack>
    </form>
  );
}
