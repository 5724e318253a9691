import { Alert, AppShell, Burger, Button, Center, Group, Loader, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, Route, Routes, useLocation, useNavigate } from 'react-router';
import { ApiError, client, setCsrfToken, unwrap, type Me } from './api';
import { mayBeSignedOut } from './lib/account';
import { AcceptInvitation } from './pages/AcceptInvitation';
import { AuditLog } from './pages/AuditLog';
import { Overview } from './pages/Overview';
import { SettingsPage } from './pages/settings/SettingsPage';
import { ForgotPassword, ResetPassword } from './pages/PasswordReset';
import { SignIn } from './pages/SignIn';
import { Workspaces } from './pages/Workspaces';
import { WorkspacePage } from './pages/workspace/WorkspacePage';
import { MeContext } from './session';
import { queryKeys } from './lib/query-keys';

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/workspaces', label: 'Workspaces' },
  { to: '/audit', label: 'Audit log' },
  { to: '/settings', label: 'Settings' },
];

export function App() {
  const queries = useQueryClient();
  const location = useLocation();
  const navigate = useNavigate();
  const [navOpen, nav] = useDisclosure(false);
  // A session ended elsewhere (Settings → Sessions in another browser), or timed out, shows as
  // the sign-in page at the next call, not as a screen of "sign in first" errors: any 401 asks
  // /v1/auth/me again, which decides.
  useEffect(() => {
    const recheck = (event: { type: string; action?: { type: string; error?: unknown } }) => {
      if (event.type === 'updated' && event.action?.type === 'error' && mayBeSignedOut(event.action.error)) void queries.invalidateQueries({ queryKey: queryKeys.me });
    };
    const stopQueries = queries.getQueryCache().subscribe(recheck);
    const stopMutations = queries.getMutationCache().subscribe(recheck);
    return () => { stopQueries(); stopMutations(); };
  }, [queries]);
  const me = useQuery({
    queryKey: queryKeys.me,
    queryFn: async () => {
      try {
        const m: Me = await unwrap(client.GET('/v1/auth/me'));
        setCsrfToken(m.csrf_token);
        return m;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          // Signed out (here, or by the session ending): nothing of this person's data stays in memory.
          setCsrfToken(null);
          // The invitation page reads its link signed out: that stays.
          queries.removeQueries({ predicate: (q) => q.queryKey[0] !== queryKeys.me[0] && q.queryKey[0] !== queryKeys.invitationLookup(null)[0] });
          return null;
        }
        throw err;
      }
    },
  });

  // An invitation's link opens outside the signed-in layout, whoever (if anyone) is signed in.
  if (location.pathname === '/accept-invitation') {
    return <AcceptInvitation onSignedIn={async () => {
      // The new account's session replaced any other: who is signed in is read again, then nothing
      // of a previous person's stays and the portal opens at once (no sign-in page in between).
      const m: Me = await unwrap(client.GET('/v1/auth/me'));
      setCsrfToken(m.csrf_token);
      void navigate('/workspaces', { replace: true });
      queries.removeQueries({ predicate: (q) => q.queryKey[0] !== queryKeys.me[0] });
      queries.setQueryData(queryKeys.me, m);
    }} />;
  }
  // The emailed link's page works signed in or not: the reset ends every session anyway.
  if (location.pathname === '/reset-password') return <ResetPassword onReset={() => void queries.invalidateQueries({ queryKey: queryKeys.me })} />;
  if (me.isPending) return <Center h="100vh"><Loader role="status" aria-label="Loading" /></Center>;
  if (me.isError) return <Center h="100vh"><Alert variant="outline" color="red.9" title="Gatehouse cannot be reached">{(me.error as Error).message}</Alert></Center>;
  if (!me.data) {
    if (location.pathname === '/forgot-password') return <ForgotPassword />;
    return <SignIn onSignedIn={(m) => { setCsrfToken(m.csrf_token); queries.setQueryData(queryKeys.me, m); }} />;
  }

  const signOut = async () => {
    await unwrap(client.POST('/v1/auth/logout')).catch(() => undefined);
    setCsrfToken(null);
    // Back to the sign-in page; nothing of this person's data stays in memory.
    queries.setQueryData(queryKeys.me, null);
    queries.removeQueries({ predicate: (q) => q.queryKey[0] !== queryKeys.me[0] });
  };

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !navOpen } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={navOpen} onClick={nav.toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Title order={3}>Gatehouse</Title>
          </Group>
          <Group>
            <Text size="sm" visibleFrom="sm">{me.data.user.email}</Text>
            <Button variant="default" size="xs" onClick={signOut}>Sign out</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.map((n) => (
          <NavLink key={n.to} component={Link} to={n.to} label={n.label} variant="filled" onClick={nav.close} active={n.to === '/' ? location.pathname === '/' : location.pathname.startsWith(n.to)} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <MeContext.Provider value={me.data}>
        {me.data.user.mfa_required ? (
          <SettingsPage />
        ) : (
          <Routes>
            <Route path="/" element={<Overview />} />
            <Route path="/workspaces" element={<Workspaces />} />
            <Route path="/workspaces/:id/:tab?" element={<WorkspacePage />} />
            <Route path="/audit" element={<AuditLog me={me.data} />} />
            <Route path="/settings/:section?" element={<SettingsPage />} />
            <Route path="*" element={<Alert variant="outline" color="gray.9" title="Not found">There is no page here.</Alert>} />
          </Routes>
        )}
        </MeContext.Provider>
      </AppShell.Main>
    </AppShell>
  );
}
