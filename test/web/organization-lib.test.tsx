// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { ApiError, type Me } from '../../web/src/api';
import { canManageOrg, grantableRoles, linkProblemOf, mailStatusText, orgRoleOf, tokenFromSearch, workspacesText } from '../../web/src/lib/organization';

const me = (organizations: Me['user']['organizations'], platform_admin = false): Me => ({
  csrf_token: 'x',
  user: { id: 'usr_1', email: 'a@example.com', name: 'A', platform_admin, mfa_enabled: false, mfa_required: false, memberships: [], organizations },
});

describe('organization roles in the portal', () => {
  test('owners and admins manage; members and read-only people do not; the platform admin does everywhere', () => {
    const m = me([{ organization_id: 'org_a', role: 'owner' }, { organization_id: 'org_b', role: 'admin' }, { organization_id: 'org_c', role: 'member' }]);
    expect([canManageOrg(m, 'org_a'), canManageOrg(m, 'org_b'), canManageOrg(m, 'org_c'), canManageOrg(m, 'org_x')]).toEqual([true, true, false, false]);
    expect(canManageOrg(me([], true), 'org_x')).toBe(true);
    expect(orgRoleOf(m, 'org_c')).toBe('member');
    expect(orgRoleOf(me([], true), 'org_a')).toBeNull();
  });
  test('nobody is offered a role above their own', () => {
    const m = me([{ organization_id: 'org_a', role: 'owner' }, { organization_id: 'org_b', role: 'admin' }]);
    expect(grantableRoles(m, 'org_a')).toEqual(['owner', 'admin', 'member', 'read_only']);
    expect(grantableRoles(m, 'org_b')).toEqual(['admin', 'member', 'read_only']);
    expect(grantableRoles(m, 'org_x')).toEqual([]);
    expect(grantableRoles(me([], true), 'org_x')).toHaveLength(4);
  });
  test('workspaces against the limit', () => {
    expect(workspacesText(2, 10)).toBe('2 of 10 workspaces');
    expect(workspacesText(1, null)).toBe('1 workspace (no limit)');
  });
});

describe('invitations in words', () => {
  test('the email status, and none when the link was shown instead', () => {
    expect(['queued', 'sent', 'failed', null].map((s) => mailStatusText(s as never))).toEqual(['Sending', 'Sent', 'Failed', 'No email (link shown)']);
  });
  test("a link's problem from the API's refusal", () => {
    expect(linkProblemOf(new ApiError(409, 'conflict', 'this invitation was already accepted', { reason: 'invitation_accepted' }))).toBe('used');
    expect(linkProblemOf(new ApiError(410, 'gone', 'this invitation has expired', { reason: 'expired' }))).toBe('expired');
    expect(linkProblemOf(new ApiError(409, 'conflict', 'this invitation was revoked', { reason: 'revoked' }))).toBe('revoked');
    expect(linkProblemOf(new ApiError(404, 'not_found', 'invitation not found'))).toBe('unknown');
    expect(linkProblemOf(new ApiError(400, 'validation_failed', 'password too short', { fields: ['password'] }))).toBeNull();
    expect(linkProblemOf(new Error('offline'))).toBeNull();
  });
  test('the token from the address', () => {
    expect(tokenFromSearch('?token=abc_123')).toBe('abc_123');
    expect(tokenFromSearch('?token=')).toBeNull();
    expect(tokenFromSearch('')).toBeNull();
  });
});
