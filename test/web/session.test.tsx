// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import type { Me } from '../../web/src/api';
import { canWrite } from '../../web/src/session';

const me = (platform_admin: boolean, memberships: Me['user']['memberships']): Me => ({
  csrf_token: 'x',
  user: { id: 'usr_1', email: 'a@example.com', name: 'A', platform_admin, mfa_enabled: false, mfa_required: false, memberships, organizations: [] },
});

describe('which write controls the portal shows', () => {
  test('a platform admin writes everywhere', () => expect(canWrite(me(true, []), 'ws_1')).toBe(true));
  test('a read_only member writes nowhere', () => expect(canWrite(me(false, [{ workspace_id: 'ws_1', role: 'read_only' }]), 'ws_1')).toBe(false));
  test('a member writes in their own workspace only', () => {
    const m = me(false, [{ workspace_id: 'ws_1', role: 'member' }]);
    expect(canWrite(m, 'ws_1')).toBe(true);
    expect(canWrite(m, 'ws_2')).toBe(false);
  });
});
