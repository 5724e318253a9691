import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { scopeCovers } from '../../src/http/actor.js';
import { ROLE_SCOPES } from '../../src/modules/apikeys/scopes.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, signIn, type Role } from '../helpers/people.js';

// The privilege ceiling, swept like the isolation sweep: every route /openapi.json lists that
// creates a key, a member or a role is driven by narrower actors (a restricted key, a manager's
// and a member's session) with the widest bodies that could be asked for, and whatever comes out
// must be no wider than the actor: scopes, roles, expiry, IP allow-list, rate limit and uses.
// A new route of that kind fails the first test until it has a driver here.
type Call = (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any; raw: string }>;
interface Actor { name: string; call: Call; held: readonly string[]; limited: boolean; orgRole?: 'admin' }

const GRANTING = /\/(api-keys|rotate|members|roles|invitations)(\/\{[a-z_]+\})?$/;
const DRIVEN = new Set([
  'POST /v1/workspaces/{id}/api-keys', 'POST /v1/api-keys/{id}/rotate', 'POST /v1/workspaces/{id}/members', 'PATCH /v1/workspaces/{id}/members/{user_id}',
  'POST /v1/organizations/{id}/members', 'PATCH /v1/organizations/{id}/members/{user_id}', 'POST /v1/organizations/{id}/invitations',
]);
const ORG_RANK = { read_only: 0, member: 1, admin: 2, owner: 3 } as const;
type OrgRole = keyof typeof ORG_RANK;

let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let ops: string[];
const actors: Actor[] = [];
const LIMITS = { expires_at: new Date(Date.now() + 86400_000).toISOString(), ip_allowlist: ['127.0.0.1'], rate_limit: { limit: 1000, window_s: 60 }, remaining: 100_000 };
const LOOSEST = { expires_at: '2999-01-01T00:00:00Z', ip_allowlist: ['0.0.0.0/0', '::/0'], rate_limit: { limit: 1_000_000, window_s: 1 }, remaining: 2_000_000_000 };
let insider: { id: string };
let outsider: { id: string };

const platform = (method: string, url: string, body?: unknown) => t.call(t.adminKey, method as 'GET', url, body);

beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t, ['*'], 'ceiling');
  const other = await seedWorkspace(t, ['*'], 'ceiling-other');
  await platform('PATCH', `/v1/organizations/${ws.org.id}`, { seat_limit: 1000 });
  const sibling = (await platform('POST', `/v1/organizations/${ws.org.id}/workspaces`, { name: 'ceiling-sibling' })).body.id;
  insider = await person(t, sibling, 'read_only');
  outsider = await person(t, other.workspace.id, 'read_only');

  // Enough to grant read_only, nothing more: a narrower role's grant must go through, a wider one not.
  const scopes = [...new Set([...ROLE_SCOPES.read_only, 'keys:write', 'members:write'])];
  const restricted = await platform('POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'restricted', scopes, ...LIMITS });
  const key = restricted.body.key as string;
  actors.push({ name: 'a restricted key', call: (m, u, b) => t.call(key, m as 'GET', u, b), held: scopes, limited: true });
  for (const role of ['manager', 'member'] as Role[]) {
    const p = await person(t, ws.workspace.id, role);
    const call = await signIn(t, p.email);
    actors.push({ name: `a ${role}'s session`, call: (m, u, b) => call(m as 'GET', u, b), held: ROLE_SCOPES[role as 'manager'], limited: false });
  }
  // An organization admin: admin in its workspaces, but never able to make an owner.
  const orgAdmin = await person(t, ws.workspace.id, 'read_only');
  await platform('POST', `/v1/organizations/${ws.org.id}/members`, { user_id: orgAdmin.id, role: 'admin' });
  const orgAdminCall = await signIn(t, orgAdmin.email);
  actors.push({ name: "an organization admin's session", call: (m, u, b) => orgAdminCall(m as 'GET', u, b), held: ROLE_SCOPES.admin, limited: false, orgRole: 'admin' });
  const doc = (await t.call(null, 'GET', '/openapi.json')).body;
  ops = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, byMethod]) =>
    Object.keys(byMethod).filter((m) => ['post', 'put', 'patch'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`)).filter((op) => GRANTING.test(op));
}, 60_000);
afterAll(() => t?.close());

const within = (held: readonly string[], scopes: readonly string[]) => scopes.every((s) => scopeCovers(held, s));

/** Why a key that came out is wider than the actor, or null. */
function keyWider(actor: Actor, key: any): string | null {
  if (!within(actor.held, key.scopes)) return `scopes ${key.scopes}`;
  if (!actor.limited) return null;
  if (!key.expires_at || Date.parse(key.expires_at) > Date.parse(LIMITS.expires_at)) return `expires_at ${key.expires_at}`;
  if (!key.ip_allowlist?.every((e: string) => ['127.0.0.1', '127.0.0.1/32', '::ffff:127.0.0.1'].includes(e))) return `ip_allowlist ${key.ip_allowlist}`;
  if (!key.rate_limit || key.rate_limit.limit > LIMITS.rate_limit.limit || key.rate_limit.window_s < LIMITS.rate_limit.window_s) return `rate_limit ${JSON.stringify(key.rate_limit)}`;
  if (key.shares_uses_of === null && (key.remaining === null || key.remaining > LIMITS.remaining)) return `remaining ${key.remaining}`;
  return null;
}

/** Each driven route, as the calls an actor makes on it: [label, url, body, what came out → why wider or null]. */
async function attempts(op: string, actor: Actor): Promise<Array<[string, string, unknown, (body: any) => string | null]>> {
  const wsId = ws.workspace.id;
  const asKey = (body: any) => keyWider(actor, body);
  // An organization admin is admin in the workspace: the workspace routes' narrower actors are the others.
  if (actor.orgRole && !op.includes('/organizations/')) return [];
  switch (op) {
    case 'POST /v1/workspaces/{id}/api-keys': {
      const url = `/v1/workspaces/${wsId}/api-keys`;
      return [
        ['*', url, { name: 'x', scopes: ['*'] }, asKey],
        ['members:write', url, { name: 'x', scopes: ['members:write'] }, asKey],
        ['a held scope, no limits', url, { name: 'x', scopes: ['keys:read'] }, asKey],
        ['a held scope, the loosest limits', url, { name: 'x', scopes: ['keys:read'], ...LOOSEST }, asKey],
      ];
    }
    case 'POST /v1/api-keys/{id}/rotate': {
      const wide = await platform('POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'wide', scopes: ['*'] });
      const open = await platform('POST', `/v1/workspaces/${wsId}/api-keys`, { name: 'open', scopes: ['keys:read'] });
      return [
        ['a * key', `/v1/api-keys/${wide.body.id}/rotate`, { grace_s: 0 }, asKey],
        ['an unlimited key of held scopes', `/v1/api-keys/${open.body.id}/rotate`, { grace_s: 0 }, asKey],
      ];
    }
    case 'POST /v1/workspaces/{id}/members':
    case 'PATCH /v1/workspaces/{id}/members/{user_id}': {
      const out: Array<[string, string, unknown, (body: any) => string | null]> = [];
      for (const role of ['admin', 'manager', 'member', 'read_only'] as Role[]) {
        const roleWider = (body: any) => (within(actor.held, ROLE_SCOPES[body.role as Role]) ? null : `role ${body.role}`);
        if (op.startsWith('POST')) {
          out.push([`${role} for someone of the organization`, `/v1/workspaces/${wsId}/members`, { user_id: insider.id, role }, roleWider]);
          out.push([`${role} for someone of another organization`, `/v1/workspaces/${wsId}/members`, { user_id: outsider.id, role }, () => 'a person of another organization']);
        } else {
          const target = await person(t, wsId, 'read_only');
          out.push([`${role} for a read_only member`, `/v1/workspaces/${wsId}/members/${target.id}`, { role }, roleWider]);
          const admin = await person(t, wsId, 'admin');
          out.push([`${role} for an admin`, `/v1/workspaces/${wsId}/members/${admin.id}`, { role }, () => 'changed an admin']);
        }
      }
      return out;
    }
    case 'POST /v1/organizations/{id}/members':
    case 'PATCH /v1/organizations/{id}/members/{user_id}':
    case 'POST /v1/organizations/{id}/invitations': {
      // Only an organization role gives one, and never above itself; nobody else gets anything out.
      const orgWider = (body: any) => (actor.orgRole && ORG_RANK[body.role as OrgRole] <= ORG_RANK[actor.orgRole] ? null : `organization role ${body.role}`);
      const out: Array<[string, string, unknown, (body: any) => string | null]> = [];
      for (const role of Object.keys(ORG_RANK) as OrgRole[]) {
        if (op.startsWith('POST /v1/organizations/{id}/members')) {
          out.push([`${role} for someone of the organization`, `/v1/organizations/${ws.org.id}/members`, { user_id: insider.id, role }, orgWider]);
        } else if (op.startsWith('PATCH')) {
          const target = await person(t, ws.workspace.id, 'read_only');
          await platform('POST', `/v1/organizations/${ws.org.id}/members`, { user_id: target.id, role: 'read_only' });
          out.push([`${role} for a read_only member`, `/v1/organizations/${ws.org.id}/members/${target.id}`, { role }, orgWider]);
        } else {
          out.push([`${role} by invitation`, `/v1/organizations/${ws.org.id}/invitations`, { email: `ceiling-${Math.random().toString(36).slice(2, 10)}@example.com`, role }, orgWider]);
        }
      }
      return out;
    }
    default:
      return [];
  }
}

describe('the privilege ceiling, route by route', () => {
  test('every route that creates keys, members or roles is driven here', () => {
    expect(ops.length).toBeGreaterThanOrEqual(DRIVEN.size);
    expect(ops.filter((op) => !DRIVEN.has(op))).toEqual([]);
  });

  test('no narrower actor gets anything wider than itself out of any of them', async () => {
    const wider: string[] = [];
    let granted = 0;
    for (const op of ops) {
      for (const actor of actors) {
        for (const [label, url, body, widerThan] of await attempts(op, actor)) {
          const res = await actor.call(op.split(' ')[0], url, body);
          const what = `${actor.name} · ${op} · ${label} → ${res.status}`;
          expect(res.status, `${what} ${res.raw.slice(0, 200)}`).toBeLessThan(500);
          if (res.status >= 300) {
            expect([400, 403, 404], what).toContain(res.status);
            continue;
          }
          granted++;
          const why = widerThan(res.body);
          if (why) wider.push(`${what}: ${why}`);
        }
      }
    }
    expect(wider).toEqual([]);
    // The ceiling refuses what is too wide, not everything: narrower requests went through.
    expect(granted).toBeGreaterThanOrEqual(4);
  }, 180_000);
});
