import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { INHERITED_ROLE, type Actor, type OrgRole } from '../../http/actor.js';
import { limitedSource } from '../../http/client-ip.js';
import { AppError, conflict, notFound } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { hashPassword } from '../../lib/password.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { SessionStore } from '../auth/sessions.js';
import type { MailService } from '../mail/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { invitationEmail } from './email.js';
import * as store from './store.js';

type Invitation = Selectable<DB['invitations']>;
type Tenancy = Pick<TenancyService,
  'requireOrganizationRole' | 'requireOrgRoleWithin' | 'organizationWorkspaceIds' | 'findPersonByEmail' | 'createPerson' | 'joinOrganization' | 'joinWorkspaces' | 'isPersonOfOrganization' | 'organizationName'>;

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  tenancy: Tenancy;
  mail: Pick<MailService, 'configured' | 'enqueue' | 'statusOf'>;
  sessions: Pick<SessionStore, 'open'>;
  limiter: RateLimiter;
  publicUrl: string;
  ttlS: number;
  clock: Clock;
  /** Whether an invitee's email signs in through the organization's provider (and must). */
  ssoFor: (organizationId: string, email: string) => Promise<{ available: boolean; enforced: boolean }>;
  /** Throws unless the password is the account's (the sign-in's limits and lock apply). */
  proveAccount: (actor: Actor, email: string, password: string) => Promise<{ id: string }>;
  /** Acceptance attempts one address may make a minute (tokens are unguessable; this keeps it so). */
  acceptPerMinute?: number;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export function statusOf(i: Invitation, now = new Date()): 'pending' | 'accepted' | 'revoked' | 'expired' {
  if (i.accepted_at) return 'accepted';
  if (i.revoked_at) return 'revoked';
  return i.expires_at <= now ? 'expired' : 'pending';
}

type MailStatus = 'queued' | 'sent' | 'failed' | null;

const view = (i: Invitation, mailStatus: MailStatus = null, at = new Date()) => ({
  id: i.id,
  organization_id: i.organization_id,
  email: i.email,
  role: i.role,
  workspace_ids: i.workspace_ids,
  status: statusOf(i, at),
  mail_status: mailStatus,
  invited_by: i.invited_by,
  expires_at: i.expires_at.toISOString(),
  accepted_at: i.accepted_at?.toISOString() ?? null,
  created_at: i.created_at.toISOString(),
});

export function createInvitationService({ db, audit, tenancy, mail, sessions, limiter, publicUrl, ttlS, clock, ssoFor, proveAccount, acceptPerMinute = 20 }: Deps) {
  const now = () => new Date(clock.now());
  const statusNow = (i: Invitation) => statusOf(i, now());
  const linkOf = (token: string) => `${publicUrl}/accept-invitation?token=${token}`;
  const newToken = () => {
    const token = `ghi_${randomBytes(32).toString('base64url')}`;
    return { token, hash: hashOf(token), expiresAt: new Date(clock.now() + ttlS * 1000) };
  };

  /**
   * Emails the link, or (no SMTP configured) hands it back for the inviter to pass on. Written in the
   * invitation's transaction: the email exists exactly when the invitation does.
   */
  async function deliver(trx: Executor, inv: Invitation, token: string, organization: string) {
    if (!mail.configured) return { url: linkOf(token) };
    const { id } = await mail.enqueue(trx, { to: inv.email, purpose: 'invitation', organizationId: inv.organization_id, ...invitationEmail({ organization, role: inv.role, link: linkOf(token), expiresAt: inv.expires_at }) });
    await store.setMail(trx, inv.id, id);
    return {};
  }

  /** The invitation, if the actor may manage its organization's people; 404 otherwise. */
  async function manageable(actor: Actor, id: string) {
    const inv = await store.getInvitation(db, id);
    if (!inv) throw notFound('invitation');
    await tenancy.requireOrganizationRole(actor, inv.organization_id, 'admin');
    return inv;
  }

  function refused(inv: Invitation | undefined): AppError {
    if (!inv) return new AppError('not_found', 'this invitation link is not valid', { reason: 'invitation_unknown' });
    const status = statusNow(inv);
    const messages = {
      accepted: 'this invitation has been accepted already: sign in instead',
      revoked: 'this invitation has been revoked: ask for a new one',
      expired: 'this invitation has expired: ask for a new one',
      pending: 'this invitation cannot be accepted now',
    };
    return new AppError('conflict', messages[status], { reason: `invitation_${status}` });
  }

  async function admit(actor: Actor) {
    const decision = await limiter.consume(`invite:ip:${limitedSource(actor.ip)}`, acceptPerMinute, 60);
    if (decision.allowed) return;
    const retryAfter = Math.max(1, Math.ceil((decision.reset - Date.now()) / 1000));
    throw new AppError('rate_limited', 'too many attempts with invitation links: wait a moment', { reason: 'invitation_attempts', retry_after_s: retryAfter }, { 'retry-after': String(retryAfter) });
  }

  return {
    async invite(actor: Actor, organizationId: string, input: { email: string; role: OrgRole; workspace_ids?: string[] }) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      tenancy.requireOrgRoleWithin(actor, organizationId, input.role);
      const workspaceIds = [...new Set(input.workspace_ids ?? [])];
      if (workspaceIds.length && (input.role === 'owner' || input.role === 'admin')) {
        throw new AppError('validation_failed', 'owners and admins run the whole organization: invite them without workspace_ids', { field: 'workspace_ids', reason: 'organization_role' });
      }
      const own = new Set(await tenancy.organizationWorkspaceIds(organizationId));
      const foreign = workspaceIds.filter((id) => !own.has(id));
      if (foreign.length) throw new AppError('validation_failed', 'these workspaces are not in the organization', { field: 'workspace_ids', workspace_ids: foreign });
      const existing = await tenancy.findPersonByEmail(input.email);
      if (existing && (await tenancy.isPersonOfOrganization(organizationId, existing.id))) {
        throw conflict('this person is already in the organization: give them a role instead', { reason: 'already_member' });
      }
      const { token, hash, expiresAt } = newToken();
      // Read before the transaction: on the embedded database it holds the one connection.
      const organization = (await tenancy.organizationName(organizationId)) ?? 'an organization';
      try {
        return await db.transaction().execute(async (trx) => {
          const open = await store.openInvitation(trx, organizationId, input.email);
          // An expired invitation makes way for the new one; a live one is resent, not doubled.
          if (open && statusNow(open) === 'pending') throw conflict('this person has a pending invitation: resend or revoke it', { reason: 'already_invited', invitation_id: open.id });
          if (open) await store.revoke(trx, open.id);
          const inv = await store.insertInvitation(trx, {
            id: newId('inv'), organization_id: organizationId, email: input.email, role: input.role, workspace_ids: workspaceIds,
            token_hash: hash, invited_by: actor.id, expires_at: expiresAt,
          });
          const sent = await deliver(trx, inv, token, organization);
          await audit.append(trx, actor, {
            workspaceId: null, organizationId, action: 'invitation.created', category: 'tenancy',
            resource: { type: 'invitation', id: inv.id }, after: { email: inv.email, role: inv.role, workspace_ids: workspaceIds, expires_at: inv.expires_at.toISOString(), emailed: !sent.url },
          });
          return { ...view(inv, mail.configured ? 'queued' : null, now()), ...sent };
        });
      } catch (err) {
        // Two invitations of one person at once: the open-invitation index lets one through.
        if (err instanceof Error && 'code' in err && (err as { code?: string }).code === '23505') throw conflict('this person has a pending invitation: resend or revoke it', { reason: 'already_invited' });
        throw err;
      }
    },

    async list(actor: Actor, organizationId: string, page: PageRequest) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      const rows = await store.listInvitations(db, organizationId, page);
      const mailIds = rows.flatMap((r) => (r.mail_id ? [r.mail_id] : []));
      const mailStatus = await mail.statusOf(mailIds);
      return toPage(rows, page, (r) => view(r, r.mail_id ? (mailStatus.get(r.mail_id) ?? null) : null, now()));
    },

    /** A new link (the old one stops working) and a new expiry, emailed again. */
    async resend(actor: Actor, id: string) {
      const inv = await manageable(actor, id);
      tenancy.requireOrgRoleWithin(actor, inv.organization_id, inv.role);
      const { token, hash, expiresAt } = newToken();
      const organization = (await tenancy.organizationName(inv.organization_id)) ?? 'an organization';
      return db.transaction().execute(async (trx) => {
        const renewed = await store.renew(trx, id, hash, expiresAt);
        if (!renewed) throw refused(inv);
        const sent = await deliver(trx, renewed, token, organization);
        await audit.append(trx, actor, {
          workspaceId: null, organizationId: inv.organization_id, action: 'invitation.resent', category: 'tenancy',
          resource: { type: 'invitation', id }, after: { email: inv.email, expires_at: expiresAt.toISOString(), emailed: !sent.url },
        });
        return { ...view(renewed, mail.configured ? 'queued' : null, now()), ...sent };
      });
    },

    async revoke(actor: Actor, id: string) {
      const inv = await manageable(actor, id);
      await db.transaction().execute(async (trx) => {
        if (!(await store.revoke(trx, id))) throw refused(inv);
        await audit.append(trx, actor, {
          workspaceId: null, organizationId: inv.organization_id, action: 'invitation.revoked', category: 'tenancy', severity: 'warning',
          resource: { type: 'invitation', id }, before: { email: inv.email, role: inv.role },
        });
      });
    },

    /** What a link offers, for the acceptance page (the token is the only credential asked). */
    async lookup(actor: Actor, token: string) {
      await admit(actor);
      const inv = await store.byTokenHash(db, hashOf(token));
      if (!inv || statusNow(inv) !== 'pending') throw refused(inv);
      const person = await tenancy.findPersonByEmail(inv.email);
      return {
        organization: { id: inv.organization_id, name: (await tenancy.organizationName(inv.organization_id)) ?? '' },
        email: inv.email, role: inv.role, workspace_ids: inv.workspace_ids, expires_at: inv.expires_at.toISOString(), existing_account: person !== undefined,
        sso: await ssoFor(inv.organization_id, inv.email),
      };
    },

    /**
     * Accepts a link once: a new person (name and password) is made and signed in; an existing one
     * gives its password (a link passed on by hand, with no SMTP, is in the inviter's hands too) and
     * signs in as usual. The seat is taken now, under the organization's lock.
     */
    async accept(actor: Actor, input: { token: string; name?: string; password?: string }) {
      await admit(actor);
      const hash = hashOf(input.token);
      const pending = await store.byTokenHash(db, hash);
      const existing = pending ? await tenancy.findPersonByEmail(pending.email) : undefined;
      if (pending && existing && statusNow(pending) === 'pending') {
        if (!input.password) throw new AppError('unauthenticated', "an account with this email exists: give its password to add the organization to it", { reason: 'password_required', field: 'password' });
        await proveAccount(actor, pending.email, input.password);
      }
      // Without a password a new person signs in only through the organization's provider; where it is enforced a password would never be used.
      const sso = pending ? await ssoFor(pending.organization_id, pending.email) : { available: false, enforced: false };
      const passwordHash = input.password && !existing && !sso.enforced ? await hashPassword(input.password) : null;
      const result = await db.transaction().execute(async (trx) => {
        const inv = await store.claim(trx, hash, now());
        if (!inv) throw refused(await store.byTokenHash(trx, hash));
        const asInvitee: Actor = { ...actor, type: 'user', id: inv.id };
        let person = await tenancy.findPersonByEmail(inv.email, trx);
        const created = person === undefined;
        // Made between the check above and this claim: its password was never asked.
        if (person && person.id !== existing?.id) throw conflict('an account with this email was made meanwhile: open the link again', { reason: 'account_changed' });
        if (!person) {
          if (!input.name) throw new AppError('validation_failed', 'a new account needs a name', { field: 'name' });
          if (!passwordHash && !sso.available) throw new AppError('validation_failed', 'a new account needs a password (12 characters or more)', { field: 'password' });
          person = { ...(await tenancy.createPerson(trx, asInvitee, { email: inv.email, name: input.name, passwordHash, organizationId: inv.organization_id })), platform_admin: false };
        }
        const as: Actor = { ...actor, type: 'user', id: person.id };
        if (inv.workspace_ids.length) await tenancy.joinWorkspaces(trx, as, inv.organization_id, person.id, inv.workspace_ids, INHERITED_ROLE[inv.role]);
        else await tenancy.joinOrganization(trx, as, inv.organization_id, person.id, inv.role);
        await store.setAcceptedBy(trx, inv.id, person.id);
        await audit.append(trx, as, {
          workspaceId: null, organizationId: inv.organization_id, action: 'invitation.accepted', category: 'tenancy',
          resource: { type: 'invitation', id: inv.id }, after: { user_id: person.id, role: inv.role, new_account: created },
        });
        return { inv, person, created };
      });
      const { person, inv, created } = result;
      const user = { id: person.id, email: person.email, name: person.name };
      // Only a person who just set their password here is signed in: an existing account proves itself at sign-in.
      if (!created || !passwordHash) return { body: { user, organization_id: inv.organization_id, signed_in: false } };
      const session = await sessions.open(person.id, actor.ip, actor.userAgent);
      return { token: session.token, body: { user, organization_id: inv.organization_id, signed_in: true, csrf_token: session.csrfToken } };
    },
  };
}
export type InvitationService = ReturnType<typeof createInvitationService>;
