/** What the Organization settings and the invitation page say: roles, invitation states and link errors, as plain functions tested in test/web. */
import { ApiError, type Me, type paths } from '../api';

export const ORG_ROLES = ['owner', 'admin', 'member', 'read_only'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];
export const ORG_ROLE_LABELS: Record<OrgRole, string> = { owner: 'Owner', admin: 'Admin', member: 'Member', read_only: 'Read only' };
const RANK: Record<OrgRole, number> = { read_only: 0, member: 1, admin: 2, owner: 3 };

export const isOrgRole = (role: string): role is OrgRole => (ORG_ROLES as readonly string[]).includes(role);

/** This person's role in the organization; the platform admin acts as its owner, and is not a member of it. */
export function orgRoleOf(me: Me, organizationId: string): OrgRole | null {
  const role = me.user.organizations?.find((o) => o.organization_id === organizationId)?.role;
  return role !== undefined && isOrgRole(role) ? role : null;
}

/** Owners and admins run the organization's people and workspaces (the API refuses anyone else). */
export function canManageOrg(me: Me, organizationId: string): boolean {
  if (me.user.platform_admin) return true;
  const role = orgRoleOf(me, organizationId);
  return role === 'owner' || role === 'admin';
}

/**
 * The roles this person may give (or take away) in the organization: never one above their own.
 * The API holds the same rule (`role_beyond_granter`); the portal only leaves the others out.
 */
export function grantableRoles(me: Me, organizationId: string): OrgRole[] {
  if (me.user.platform_admin) return [...ORG_ROLES];
  const held = orgRoleOf(me, organizationId);
  return held ? ORG_ROLES.filter((r) => RANK[r] <= RANK[held]) : [];
}

/** "3 of 10 workspaces", or "3 workspaces (no limit)"; archived ones do not count. */
export function workspacesText(live: number, limit: number | null): string {
  return limit === null ? `${live} ${live === 1 ? 'workspace' : 'workspaces'} (no limit)` : `${live} of ${limit} workspaces`;
}

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';
export type MailStatus = 'queued' | 'sent' | 'failed' | null;

export const INVITATION_STATUS_LABELS: Record<InvitationStatus, string> = { pending: 'Pending', accepted: 'Accepted', revoked: 'Revoked', expired: 'Expired' };

/** How the email went: null means none was sent (no SMTP server; the link was shown instead). */
export function mailStatusText(status: MailStatus | undefined): string {
  if (status === 'queued') return 'Sending';
  if (status === 'sent') return 'Sent';
  if (status === 'failed') return 'Failed';
  return 'No email (link shown)';
}

/** What an invitation link offers (GET /v1/invitations/lookup), as the acceptance page reads it. */
export type InvitationLookup = paths['/v1/invitations/lookup']['get']['responses'][200]['content']['application/json'];

export type LinkProblem = 'used' | 'expired' | 'revoked' | 'unknown';

/**
 * Why an invitation link does not work, from the API's refusal: its `details.reason` (or status)
 * when it says, else "unknown" for a 404 or a malformed link. Other errors are not the link's fault.
 */
export function linkProblemOf(err: unknown): LinkProblem | null {
  if (!(err instanceof ApiError)) return null;
  const said = `${String(err.details?.reason ?? err.details?.status ?? '')} ${err.message}`.toLowerCase();
  if (/accepted|used/.test(said)) return 'used';
  if (/expired/.test(said)) return 'expired';
  if (/revoked/.test(said)) return 'revoked';
  if (err.status === 404 || err.status === 410 || (err.status === 400 && /token/.test(said))) return 'unknown';
  return null;
}

export const LINK_PROBLEM_TEXT: Record<LinkProblem, { title: string; text: string }> = {
  used: { title: 'This invitation has already been used', text: 'It was accepted already. Sign in with the account it made, or ask for a new invitation.' },
  expired: { title: 'This invitation has expired', text: 'Ask the person who invited you to send it again.' },
  revoked: { title: 'This invitation was revoked', text: 'It no longer gives access. Ask the organization for a new one if you still need it.' },
  unknown: { title: 'This invitation link is not valid', text: 'Check that the whole link was copied, or ask for a new invitation.' },
};

/** The token from the page's address (`/accept-invitation?token=…`), or null. */
export function tokenFromSearch(search: string): string | null {
  const token = new URLSearchParams(search).get('token')?.trim();
  return token ? token : null;
}
