import { Alert, Anchor, Button, Group, PasswordInput, Select, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, client, unwrap } from '../../api';
import { queryKeys } from '../../lib/query-keys';
import { Part } from './org-parts';
import { ErrorAlert } from './parts';
import { SsoDomains } from './SsoDomains';

const ROLES = ['owner', 'admin', 'member', 'read_only'] as const;
type Role = (typeof ROLES)[number];
type PresetName = 'google' | 'microsoft' | 'okta';
const roleData = ROLES.map((r) => ({ value: r, label: r === 'read_only' ? 'Read only' : r[0].toUpperCase() + r.slice(1) }));

/** The configuration as it reads from GET …/sso; null while none is set (a 404). */
async function readConfig(organizationId: string) {
  try {
    return await unwrap(client.GET('/v1/organizations/{id}/sso', { params: { path: { id: organizationId } } }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * An organization's single sign-on (OpenID Connect): the provider, the email domains that sign in
 * through it, the role a first sign-in gets, whether passwords are closed to members, and a trial
 * sign-in. For the organization's owners and admins; mounted by the Organization settings page.
 */
export function SsoSettings({ organizationId }: { organizationId: string }) {
  const queries = useQueryClient();
  const config = useQuery({ queryKey: queryKeys.sso(organizationId), queryFn: () => readConfig(organizationId) });
  const presets = useQuery({ queryKey: queryKeys.ssoPresets, queryFn: () => unwrap(client.GET('/v1/auth/sso/presets')), staleTime: Infinity });
  const [preset, setPreset] = useState<PresetName | null>(null);
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [domains, setDomains] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [enforce, setEnforce] = useState(false);

  useEffect(() => {
    const c = config.data;
    if (!c) return;
    setPreset(c.preset);
    setIssuer(c.issuer);
    setClientId(c.client_id);
    setDomains(c.allowed_domains.join(', '));
    setRole(c.default_role);
    setEnforce(c.enforce);
  }, [config.data]);

  const save = useMutation({
    mutationFn: () => unwrap(client.PUT('/v1/organizations/{id}/sso', {
      params: { path: { id: organizationId } },
      body: {
        preset, issuer: issuer.trim(), client_id: clientId.trim(), ...(secret ? { client_secret: secret } : {}),
        allowed_domains: domains.split(/[\s,]+/).filter(Boolean), enforce, default_role: role,
      },
    })),
    onSuccess: () => {
      setSecret('');
      return queries.invalidateQueries({ queryKey: queryKeys.sso(organizationId) });
    },
  });
  const trial = useMutation({ mutationFn: () => unwrap(client.POST('/v1/organizations/{id}/sso/test', { params: { path: { id: organizationId } } })) });
  const chosen = presets.data?.data.find((p) => p.name === preset);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };

  return (
    <Part title="Single sign-on">
      <Text size="sm" c="gray.8">People with an email of these domains sign in through your identity provider (OpenID Connect). Register this redirect URI with it: {window.location.origin}/v1/auth/sso/callback.</Text>
      <ErrorAlert error={config.error} />
      <form onSubmit={submit}>
        <Stack gap="xs" maw={640}>
          <Select label="Provider" placeholder="Another OpenID provider" clearable value={preset}
            data={(presets.data?.data ?? []).map((p) => ({ value: p.name, label: p.label }))}
            onChange={(v) => setPreset(v as PresetName | null)} />
          {chosen && <Text size="sm" c="gray.8">Issuer: {chosen.issuer_pattern}. {chosen.notes}.</Text>}
          <TextInput label="Issuer URL" required value={issuer} onChange={(e) => setIssuer(e.currentTarget.value)} />
          <TextInput label="Client ID" required value={clientId} onChange={(e) => setClientId(e.currentTarget.value)} />
          <PasswordInput label="Client secret" required={!config.data} value={secret} onChange={(e) => setSecret(e.currentTarget.value)}
            description={config.data ? `Stored (${config.data.client_secret_mask}); leave empty to keep it` : undefined} />
          <TextInput label="Email domains" required description="Comma-separated, e.g. example.com" value={domains} onChange={(e) => setDomains(e.currentTarget.value)} />
          <Select label="Role of a new person" data={roleData} value={role} allowDeselect={false} onChange={(v) => v && setRole(v as Role)} />
          <Switch label="Members must sign in with SSO (passwords refused; the platform admin's still works)" checked={enforce} onChange={(e) => setEnforce(e.currentTarget.checked)} />
          <ErrorAlert error={save.error} />
          {save.isSuccess && <Alert variant="outline" color="green.9">Single sign-on saved.</Alert>}
          <Group>
            <Button type="submit" loading={save.isPending}>Save single sign-on</Button>
            <Button variant="default" disabled={!config.data} loading={trial.isPending} onClick={() => trial.mutate()}>Test sign-in</Button>
          </Group>
          <ErrorAlert error={trial.error} />
          {trial.data && (
            <Text size="sm">Open <Anchor href={trial.data.url} target="_blank" rel="noreferrer">the trial sign-in</Anchor>: it ends with the claims your provider sent, and signs nobody in.</Text>
          )}
        </Stack>
      </form>
      {config.data && <SsoDomains organizationId={organizationId} domains={config.data.domains} />}
    </Part>
  );
}
