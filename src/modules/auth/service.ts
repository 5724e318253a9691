import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { AppError, invalid } from '../../lib/errors.js';
import { hashPassword, verifyPassword } from '../../lib/password.js';
import type { AuditService } from '../audit/service.js';
import type { OpenSession, SessionStore } from './sessions.js';

export interface LoginPolicy {
  /** Failed sign-ins in a row before the account locks. */
  lockAfter: number;
  /** The first lock's length; each further failure while at the limit doubles it (at most a day). */
  lockS: number;
}

// Checked against when the email is unknown, so an unknown address takes as long as a wrong password.
const DUMMY_HASH = hashPassword('gatehouse-dummy-password');
/** Both purposes (pending and confirmed) seal under one binding: confirming renames the row. */
export const userBinding = (userId: string) => `user:${userId}|totp`;
const totpFor = (email: string, secret: Secret) => new TOTP({ issuer: 'Gatehouse', label: email, secret, algorithm: 'SHA1', digits: 6, period: 30 });

export function userView(s: Pick<OpenSession, 'userId' | 'email' | 'name' | 'platformAdmin' | 'mfaEnabled' | 'mfaPending' | 'memberships'>) {
  return {
    id: s.userId,
    email: s.email,
    name: s.name,
    platform_admin: s.platformAdmin,
    mfa_enabled: s.mfaEnabled,
    mfa_required: s.mfaPending,
    memberships: Object.entries(s.memberships).map(([workspace_id, role]) => ({ workspace_id, role })),
  };
}

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  sessions: SessionStore;
  policy: LoginPolicy;
}

export function createAuthService({ db, ring, audit, sessions, policy }: Deps) {
  const refuse = (reason: string, message = 'wrong email or password') => new AppError('unauthenticated', message, { reason });

  async function openTotp(userId: string, email: string, purpose: 'totp' | 'totp_pending') {
    const row = await db.selectFrom('user_secrets').selectAll().where('user_id', '=', userId).where('purpose', '=', purpose).executeTakeFirst();
    return row ? totpFor(email, Secret.fromBase32(decryptSecret(ring, row, userBinding(userId)))) : null;
  }

  async function failed(actor: Actor, user: { id: string; failed_logins: number } | undefined, reason: string) {
    let lockedUntil: Date | null = null;
    if (user) {
      const failures = user.failed_logins + 1;
      if (failures >= policy.lockAfter) {
        const seconds = Math.min(policy.lockS * 2 ** (failures - policy.lockAfter), 86_400);
        lockedUntil = new Date(Date.now() + seconds * 1000);
      }
      await db.updateTable('users').set({ failed_logins: failures, locked_until: lockedUntil }).where('id', '=', user.id).execute();
    }
    await audit.record(actor, {
      workspaceId: null,
      action: lockedUntil ? 'auth.locked' : 'auth.login_failed',
      category: 'auth',
      severity: 'warning',
      outcome: 'failure',
      resource: user ? { type: 'user', id: user.id } : undefined,
      after: { reason, ...(lockedUntil ? { locked_until: lockedUntil.toISOString() } : {}) },
    });
  }

  return {
    /** Email + password (+ TOTP when enrolled); a new session, or 401 / 429 (locked) with the reason. */
    async login(actor: Actor, input: { email: string; password: string; totp?: string }) {
      const user = await db.selectFrom('users').selectAll().where((eb) => eb(eb.fn('lower', ['email']), '=', input.email.toLowerCase())).executeTakeFirst();
      if (user?.locked_until && user.locked_until > new Date()) {
        await failed(actor, user, 'locked');
        const retryAfter = Math.ceil((user.locked_until.getTime() - Date.now()) / 1000);
        throw new AppError('rate_limited', 'too many failed sign-ins: the account is locked for a while', { reason: 'locked', retry_after_s: retryAfter }, { 'retry-after': String(retryAfter) });
      }
      const ok = await verifyPassword(input.password, user?.password_hash ?? (await DUMMY_HASH));
      if (!user || !user.password_hash || !ok) {
        await failed(actor, user, user ? 'wrong_password' : 'unknown_email');
        throw refuse('wrong_credentials');
      }
      if (user.mfa_enabled) {
        if (!input.totp) throw refuse('totp_required', 'enter the 6-digit code from your authenticator app');
        const totp = await openTotp(user.id, user.email, 'totp');
        if (!totp || totp.validate({ token: input.totp, window: 1 }) === null) {
          await failed(actor, user, 'wrong_totp');
          throw refuse('wrong_totp', 'the code is not valid');
        }
      }
      await db.updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', '=', user.id).execute();
      const { token, csrfToken } = await sessions.open(user.id, actor.ip, actor.userAgent);
      await audit.record({ ...actor, type: 'user', id: user.id }, { workspaceId: null, action: 'auth.login', category: 'auth', resource: { type: 'user', id: user.id } });
      const session = (await sessions.read(token))!;
      return { token, body: { user: userView(session), csrf_token: csrfToken } };
    },

    async logout(actor: Actor, token: string) {
      await sessions.end(token);
      await audit.record(actor, { workspaceId: null, action: 'auth.logout', category: 'auth', resource: { type: 'user', id: actor.id } });
    },

    /** A new TOTP secret, pending until a code from it is confirmed. */
    async enrollMfa(actor: Actor, session: OpenSession) {
      const secret = new Secret({ size: 20 });
      const sealed = encryptSecret(ring, secret.base32, userBinding(session.userId));
      const row = { user_id: session.userId, purpose: 'totp_pending' as const, ...sealed, mask: maskSecret(secret.base32), updated_at: new Date() };
      await db.insertInto('user_secrets').values(row).onConflict((oc) => oc.columns(['user_id', 'purpose']).doUpdateSet({ ...sealed, mask: row.mask, updated_at: row.updated_at })).execute();
      await audit.record(actor, { workspaceId: null, action: 'auth.mfa_enrolment_started', category: 'auth', resource: { type: 'user', id: session.userId } });
      return { otpauth_url: totpFor(session.email, secret).toString() };
    },

    async confirmMfa(actor: Actor, session: OpenSession, code: string) {
      const pending = await openTotp(session.userId, session.email, 'totp_pending');
      if (!pending) throw invalid('start with POST /v1/auth/mfa/enroll', { field: 'code' });
      if (pending.validate({ token: code, window: 1 }) === null) throw invalid('the code is not valid for the enrolled secret', { field: 'code' });
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('user_secrets').where('user_id', '=', session.userId).where('purpose', '=', 'totp').execute();
        await trx.updateTable('user_secrets').set({ purpose: 'totp' }).where('user_id', '=', session.userId).where('purpose', '=', 'totp_pending').execute();
        await trx.updateTable('users').set({ mfa_enabled: true }).where('id', '=', session.userId).execute();
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.mfa_enabled', category: 'auth', resource: { type: 'user', id: session.userId } });
      });
      return { mfa_enabled: true };
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
