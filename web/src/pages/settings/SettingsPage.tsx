import { Stack, Tabs, Title } from '@mantine/core';
import type { ComponentType } from 'react';
import { useNavigate, useParams } from 'react-router';
import type { Me } from '../../api';
import { useMe } from '../../session';
import { AccountSection } from './AccountSection';
import { ImportSection } from './ImportSection';
import { MailSection } from './MailSection';
import { InstancesSection } from './InstancesSection';
import { MembersSection } from './MembersSection';
import { hasOrganizationSection, OrganizationSection } from './OrganizationSection';
import { OrganizationsSection } from './OrganizationsSection';
import { UsersSection } from './UsersSection';

const hasRole = (me: Me, roles: string[]) => me.user.platform_admin || me.user.memberships.some((m) => roles.includes(m.role));

// A section shows only to those the API lets use it: the rest would be a screen of refusals.
const SECTIONS: Array<{ slug: string; label: string; Panel: ComponentType; shows: (me: Me) => boolean }> = [
  { slug: 'account', label: 'Account', Panel: AccountSection, shows: () => true },
  { slug: 'organization', label: 'Organization', Panel: OrganizationSection, shows: hasOrganizationSection },
  { slug: 'instances', label: 'Provider instances', Panel: InstancesSection, shows: (me) => me.user.platform_admin },
  { slug: 'organizations', label: 'Organizations', Panel: OrganizationsSection, shows: (me) => me.user.platform_admin },
  { slug: 'users', label: 'Users', Panel: UsersSection, shows: (me) => me.user.platform_admin },
  { slug: 'mail', label: 'Mail', Panel: MailSection, shows: (me) => me.user.platform_admin },
  { slug: 'members', label: 'Members', Panel: MembersSection, shows: (me) => hasRole(me, ['admin']) },
  { slug: 'import', label: 'Bulk import', Panel: ImportSection, shows: (me) => hasRole(me, ['admin', 'manager']) },
];

/**
 * You and your two-factor sign-in; for admins, the platform's settings. While an organization
 * requires two-factor sign-in of someone who has not set it up, only the Account section exists.
 */
export function SettingsPage() {
  const me = useMe();
  const { section = 'account' } = useParams();
  const navigate = useNavigate();
  const shown = me.user.mfa_required ? SECTIONS.slice(0, 1) : SECTIONS.filter((s) => s.shows(me));
  const current = shown.some((s) => s.slug === section) ? section : 'account';
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      {shown.length === 1 ? (
        <AccountSection />
      ) : (
        <Tabs value={current} onChange={(v) => navigate(`/settings/${v}`)} keepMounted={false}>
          <Tabs.List>
            {shown.map((s) => <Tabs.Tab key={s.slug} value={s.slug}>{s.label}</Tabs.Tab>)}
          </Tabs.List>
          {shown.map((s) => (
            <Tabs.Panel key={s.slug} value={s.slug} pt="md">
              <s.Panel />
            </Tabs.Panel>
          ))}
        </Tabs>
      )}
    </Stack>
  );
}
