import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Worker } from '../../src/jobs/worker.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, PERSON_PASSWORD, signIn, type SessionCall } from '../helpers/people.js';
import { startMailWorker, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Invitations by email: a single-use link, emailed through the outbox (or shown to the inviter with
// no SMTP), accepted once with a name and password, the seat taken at acceptance.
let mailed: TestApp;
let plain: TestApp;
let smtp: TestSmtp;
let worker: Worker;
const NEW_PASSWORD = 'a brand new long password';

beforeAll(async () => {
  smtp = await startSmtp();
  [mailed, plain] = await Promise.all([createTestApp({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_PUBLIC_URL: 'https://gatehouse.test' }), createTestApp()]);
  worker = await startMailWorker(mailed);
});
afterAll(async () => {
  await worker?.stop();
  await Promise.all([mailed?.close(), plain?.close()]);
  await smtp?.close();
});

async function ownedOrganization(t: TestApp) {
  const seed = await seedWorkspace(t);
  const owner = await person(t);
  const res = await t.call(t.adminKey, 'POST', `/v1/organizations/${seed.org.id}/members`, { email: owner.email, role: 'owner' });
  expect(res.status, res.raw).toBe(201);
  return { ...seed, owner, as: await signIn(t, owner.email) };
}

const newEmail = () => `invitee-${Math.random().toString(36).slice(2, 10)}@example.com`;
const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

async function accept(t: TestApp, body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/invitations/accept', payload: body });
  return { status: res.statusCode, body: JSON.parse(res.body), cookie: res.headers['set-cookie'] ? String(res.headers['set-cookie']).split(';')[0] : undefined };
}

function asCookie(t: TestApp, cookie: string, csrf: string): SessionCall {
  return async (method, url, body) => {
    const res = await t.app.inject({ method, url, headers: { cookie, 'x-csrf-token': csrf }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
  };
}

describe('an invitation by email', () => {
  test('is emailed, accepted once with a name and password, and signs the new person in with their role', async () => {
    const o = await ownedOrganization(mailed);
    const email = newEmail();
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email, role: 'member' });
    expect(sent.status, sent.raw).toBe(201);
    expect(sent.body).toMatchObject({ email, role: 'member', status: 'pending', mail_status: 'queued', organization_id: o.org.id });
    expect(sent.body.url).toBeUndefined();
    const message = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text === email);
    expect(message.subject).toContain(o.org.name);
    const link = /https:\/\/gatehouse\.test\/accept-invitation\?token=\S+/.exec(message.text ?? '')![0];
    const token = tokenOf(link);

    const lookup = await mailed.app.inject({ method: 'GET', url: `/v1/invitations/lookup?token=${token}` });
    expect(JSON.parse(lookup.body)).toMatchObject({ organization: { id: o.org.id, name: o.org.name }, email, role: 'member', existing_account: false, sso: { available: false, enforced: false } });
    // Without single sign-on for this email, a new account needs a password.
    const noPassword = await accept(mailed, { token, name: 'Colleague' });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body.error.details.field).toBe('password');

    const accepted = await accept(mailed, { token, name: 'Colleague', password: NEW_PASSWORD });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toMatchObject({ user: { email, name: 'Colleague' }, organization_id: o.org.id, signed_in: true });
    const theirs = asCookie(mailed, accepted.cookie!, accepted.body.csrf_token);
    const me = (await theirs('GET', '/v1/auth/me')).body.user;
    expect(me.organizations).toEqual([{ organization_id: o.org.id, role: 'member' }]);
    expect(me.memberships).toEqual([{ workspace_id: o.workspace.id, role: 'member' }]);
    // And the password they chose works for signing in.
    const login = await mailed.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: NEW_PASSWORD } });
    expect(login.statusCode).toBe(200);

    const again = await accept(mailed, { token, name: 'Someone else', password: NEW_PASSWORD });
    expect(again.status).toBe(409);
    expect(again.body.error.details.reason).toBe('invitation_accepted');

    const list = await o.as('GET', `/v1/organizations/${o.org.id}/invitations`);
    const row = list.body.data.find((i: { id: string }) => i.id === sent.body.id);
    expect(row).toMatchObject({ status: 'accepted', mail_status: 'sent' });

    // The token is a credential: in no answer, log or audit entry.
    const trail = await mailed.call(mailed.adminKey, 'GET', `/v1/audit?organization_id=${o.org.id}&limit=1000`);
    const actions = trail.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['invitation.created', 'invitation.accepted', 'organization.member_added', 'user.created']));
    for (const text of [trail.raw, list.raw, mailed.logs.join('\n'), (await mailed.call(mailed.adminKey, 'GET', '/v1/mail/outbox?limit=100')).raw]) expect(text).not.toContain(token);
  });

  test('with no SMTP server the link is handed to the inviter; an existing account joins only with its own password, without being signed in', async () => {
    const o = await ownedOrganization(plain);
    const existing = await person(plain);
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: existing.email, role: 'read_only' });
    expect(sent.status, sent.raw).toBe(201);
    expect(sent.body).toMatchObject({ mail_status: null, url: expect.stringContaining('/accept-invitation?token=ghi_') });
    const token = tokenOf(sent.body.url);
    const lookup = await plain.app.inject({ method: 'GET', url: `/v1/invitations/lookup?token=${token}` });
    expect(JSON.parse(lookup.body).existing_account).toBe(true);
    // The inviter holds the link too: without the account's password it does not join someone else's account.
    const bare = await accept(plain, { token });
    expect(bare.status).toBe(401);
    expect(bare.body.error.details).toMatchObject({ reason: 'password_required' });
    const wrong = await accept(plain, { token, name: 'Taken Over', password: 'the inviter guesses this' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.details).toMatchObject({ reason: 'wrong_credentials' });
    const still = await plain.app.inject({ method: 'GET', url: `/v1/invitations/lookup?token=${token}` });
    expect(still.statusCode).toBe(200);
    const accepted = await accept(plain, { token, password: PERSON_PASSWORD });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toMatchObject({ user: { id: existing.id }, signed_in: false });
    expect(accepted.cookie).toBeUndefined();
    const me = (await (await signIn(plain, existing.email))('GET', '/v1/auth/me')).body.user;
    expect(me.organizations).toEqual([{ organization_id: o.org.id, role: 'read_only' }]);
    expect(me.name).toBe('A Person');
  });

  test('limited to some workspaces, it gives a workspace role there and no organization role', async () => {
    const o = await ownedOrganization(plain);
    const second = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'second' });
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member', workspace_ids: [second.body.id] });
    expect(sent.status, sent.raw).toBe(201);
    const accepted = await accept(plain, { token: tokenOf(sent.body.url), name: 'Scoped', password: NEW_PASSWORD });
    const me = (await asCookie(plain, accepted.cookie!, accepted.body.csrf_token)('GET', '/v1/auth/me')).body.user;
    expect(me.organizations).toEqual([]);
    expect(me.memberships).toEqual([{ workspace_id: second.body.id, role: 'member' }]);
  });

  test('revoked, it no longer works; resent, only the new link does', async () => {
    const o = await ownedOrganization(plain);
    const revoked = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member' });
    expect((await o.as('DELETE', `/v1/invitations/${revoked.body.id}`)).status).toBe(204);
    const refused = await accept(plain, { token: tokenOf(revoked.body.url), name: 'X', password: NEW_PASSWORD });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details.reason).toBe('invitation_revoked');
    expect((await o.as('DELETE', `/v1/invitations/${revoked.body.id}`)).status).toBe(409);

    const first = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member' });
    const resent = await o.as('POST', `/v1/invitations/${first.body.id}/resend`);
    expect(resent.status, resent.raw).toBe(200);
    expect(resent.body.url).not.toBe(first.body.url);
    const old = await accept(plain, { token: tokenOf(first.body.url), name: 'X', password: NEW_PASSWORD });
    expect(old.status).toBe(404);
    expect(old.body.error.details.reason).toBe('invitation_unknown');
    expect((await accept(plain, { token: tokenOf(resent.body.url), name: 'X', password: NEW_PASSWORD })).status).toBe(200);
  });

  test('expires after its time (7 days by default), and can then be resent', async () => {
    const o = await ownedOrganization(plain);
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member' });
    const ttl = new Date(sent.body.expires_at).getTime() - plain.clock.now();
    expect(ttl).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400_000);
    plain.clock.advance(7 * 86_400_000 + 1000);
    const late = await accept(plain, { token: tokenOf(sent.body.url), name: 'Late', password: NEW_PASSWORD });
    expect(late.status).toBe(409);
    expect(late.body.error.details.reason).toBe('invitation_expired');
    const list = await o.as('GET', `/v1/organizations/${o.org.id}/invitations`);
    expect(list.body.data.find((i: { id: string }) => i.id === sent.body.id).status).toBe('expired');
    const resent = await o.as('POST', `/v1/invitations/${sent.body.id}/resend`);
    expect((await accept(plain, { token: tokenOf(resent.body.url), name: 'Late', password: NEW_PASSWORD })).status).toBe(200);
  });

  test('the seat is taken at acceptance: none left, the invitation stays open until there is one', async () => {
    const o = await ownedOrganization(plain);
    await plain.call(plain.adminKey, 'PATCH', `/v1/organizations/${o.org.id}`, { seat_limit: 1 });
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member' });
    const full = await accept(plain, { token: tokenOf(sent.body.url), name: 'Seatless', password: NEW_PASSWORD });
    expect(full.status).toBe(409);
    expect(full.body.error.details.reason).toBe('seat_limit_reached');
    await plain.call(plain.adminKey, 'PATCH', `/v1/organizations/${o.org.id}`, { seat_limit: 5 });
    expect((await accept(plain, { token: tokenOf(sent.body.url), name: 'Seated', password: NEW_PASSWORD })).status).toBe(200);
  });

  test('accepted twice at once, it works once', async () => {
    const o = await ownedOrganization(plain);
    const sent = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member' });
    const results = await Promise.all(Array.from({ length: 4 }, () => accept(plain, { token: tokenOf(sent.body.url), name: 'Racer', password: NEW_PASSWORD })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
  });
});

describe('who may invite', () => {
  test('owners and admins, never above their own role, only to their organization and its workspaces', async () => {
    const o = await ownedOrganization(plain);
    const a = await person(plain, o.workspace.id, 'member');
    await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: a.id, role: 'admin' });
    const admin = await signIn(plain, a.email);
    const beyond = await admin('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'owner' });
    expect(beyond.status).toBe(403);
    expect(beyond.body.error.details.reason).toBe('role_beyond_granter');
    expect((await admin('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'admin' })).status).toBe(201);

    const m = await person(plain, o.workspace.id, 'admin');
    const wsAdmin = await signIn(plain, m.email);
    // A workspace admin without an organization role invites nobody into the organization.
    expect((await wsAdmin('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'read_only' })).status).toBe(403);

    const other = await seedWorkspace(plain);
    expect((await o.as('POST', `/v1/organizations/${other.org.id}/invitations`, { email: newEmail(), role: 'member' })).status).toBe(404);
    const foreign = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'member', workspace_ids: [other.workspace.id] });
    expect(foreign.status).toBe(400);
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: newEmail(), role: 'owner', workspace_ids: [o.workspace.id] })).status).toBe(400);
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: 'not-an-email', role: 'member' })).status).toBe(400);
  });

  test('a person already in the organization, or already invited, is not invited twice', async () => {
    const o = await ownedOrganization(plain);
    const inside = await person(plain, o.workspace.id, 'member');
    const twice = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: inside.email, role: 'member' });
    expect(twice.status).toBe(409);
    expect(twice.body.error.details.reason).toBe('already_member');
    const email = newEmail();
    const first = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email, role: 'member' });
    const second = await o.as('POST', `/v1/organizations/${o.org.id}/invitations`, { email: email.toUpperCase(), role: 'member' });
    expect(second.status).toBe(409);
    expect(second.body.error.details).toMatchObject({ reason: 'already_invited', invitation_id: first.body.id });
  });

  test('a link that is not one is refused plainly', async () => {
    const lookup = await plain.app.inject({ method: 'GET', url: '/v1/invitations/lookup?token=ghi_nothing-like-a-real-token' });
    expect(lookup.statusCode).toBe(404);
    expect((await accept(plain, { token: 'not a token' })).status).toBe(400);
  });
});
