import type { Kysely } from 'kysely';
import { Secret } from 'otpauth';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DB, Executor } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { encryptSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { AppError, invalid, notFound, present } from '../../lib/errors.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { MailService } from '../mail/service.js';
import { createAccountLifecycle } from './account.js';
import { createCredentialChecks, totpFor, userBinding, type AttemptLimits } from './credentials.js';
import type { FailureSummary } from './failures.js';
import { createRecoveryCodes } from './recovery.js';
import type { OpenSession, SessionStore } from './sessions.js';
import * as store from './store.js';
import { setPassword } from './store-account.js';

export type { LoginPolicy } from './store.js';
export { userBinding, type AttemptLimits };

export function userView(s: Pick<OpenSession, 'userId' | 'email' | 'name' | 'platformAdmin' | 'mfaEnabled' | 'mfaPending' | 'memberships' | 'organizations'>) {
  return {
    id: s.userId,
    email: s.email,
    name: s.name,
    platform_admin: s.platformAdmin,
    mfa_enabled: s.mfaEnabled,
    mfa_required: s.mfaPending,
    memberships: Object.entries(s.memberships).map(([workspace_id, role]) => ({ workspace_id, role })),
    organizations: Object.entries(s.organizations).map(([organization_id, role]) => ({ organization_id, role })),
  };
}

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  sessions: SessionStore;
  policy: store.LoginPolicy;
  limits: AttemptLimits;
  limiter: RateLimiter;
  failures: FailureSummary;
  registry: Registry;
  /** The organizations whose single sign-on closes this person's password sign-in (none for the platform admin). */
  passwordRefusedBy: (user: { id: string; platform_admin: boolean }) => Promise<string[]>;
  mail: Pick<MailService, 'configured' | 'enqueue'>;
  publicUrl: string;
  log: Logger;
}

export function createAuthService({ db, ring, audit, sessions, policy, limits, limiter, failures, registry, passwordRefusedBy, mail, publicUrl, log }: Deps) {
  const checks = createCredentialChecks({ db, ring, audit, policy, limits, limiter, failures, registry });
  const { refuse, openTotp, stepOf, checkPassword, checkCode } = checks;
  const recovery = createRecoveryCodes({ db, audit, checks });

  return {
    ...createAccountLifecycle({ db, audit, sessions, checks, mail, publicUrl, log, registry }),

    /**
     * Email + password (+ a TOTP code or a recovery code when enrolled); a new session, or 401 / 429
     * (limited or locked) with the reason. After a recovery code, the answer tells how many remain.
     */
    async login(actor: Actor, input: { email: string; password: string; totp?: string; recovery_code?: string }) {
      const user = await checkPassword(actor, input.email, input.password);
      // Told only once the password is right, so the answer does not reveal where an email signs in.
      const enforcing = await passwordRefusedBy(user);
      if (enforcing.length) {
        await audit.record({ ...actor, type: 'user', id: user.id }, {
          workspaceId: null, organizationId: enforcing[0], action: 'auth.login_failed', category: 'auth', severity: 'warning', outcome: 'failure',
          resource: { type: 'user', id: user.id }, after: { reason: 'sso_required', organization_ids: enforcing },
        });
        throw new AppError('forbidden', 'your organization signs in with single sign-on: use Sign in with SSO', { reason: 'sso_required', organization_ids: enforcing });
      }
      let remaining: number | undefined;
      if (user.mfa_enabled) {
        if (input.totp) await checkCode(actor, user, input.totp);
        else if (input.recovery_code) remaining = await recovery.use(actor, user, input.recovery_code);
        else throw refuse('totp_required', 'enter the 6-digit code from your authenticator app, or one of your recovery codes');
      }
      await store.clearFailures(db, user.id);
      const { token, csrfToken } = await sessions.open(user.id, actor.ip, actor.userAgent);
      await audit.record({ ...actor, type: 'user', id: user.id }, { workspaceId: null, action: 'auth.login', category: 'auth', resource: { type: 'user', id: user.id } });
      const session = present(await sessions.read(token), 'the session just opened');
      return { token, body: { user: userView(session), csrf_token: csrfToken, ...(remaining === undefined ? {} : { recovery_codes_remaining: remaining }) } };
    },

    /** A new person's password, set in the transaction that makes them (tenancy calls it). */
    setPassword: (trx: Executor, userId: string, passwordHash: string) => setPassword(trx, userId, passwordHash),

    /**
     * That whoever asks holds this account's password, for acting on it without a session (an
     * invitation accepted by an existing account): the sign-in's limits, lock and audit apply.
     */
    async proveAccount(actor: Actor, email: string, password: string) {
      return { id: (await checkPassword(actor, email, password)).id };
    },

    async logout(actor: Actor, token: string) {
      await sessions.end(token);
      await audit.record(actor, { workspaceId: null, action: 'auth.logout', category: 'auth', resource: { type: 'user', id: actor.id } });
    },

    listSessions: (session: { token: string; open: OpenSession }) => sessions.list(session.open.userId, session.token),

    /** Ends one of the person's own sessions (another person's is not found). */
    async endSession(actor: Actor, session: { open: OpenSession }, id: string) {
      if (!(await sessions.endById(session.open.userId, id))) throw notFound('session');
      await audit.record(actor, { workspaceId: null, action: 'auth.session_ended', category: 'auth', resource: { type: 'session', id } });
    },

    /**
     * A new TOTP secret, pending until a code from it is confirmed. Replacing a confirmed
     * authenticator takes the password and a current code: a session alone is not enough.
     */
    async enrollMfa(actor: Actor, session: OpenSession, proof: { password?: string; code?: string } = {}) {
      if (session.mfaEnabled) {
        if (!proof.password || !proof.code) {
          throw new AppError('forbidden', 'replacing your authenticator needs your password and a current code from it', { reason: 'reauthentication_required' });
        }
        const user = await checkPassword(actor, session.email, proof.password);
        if (user.id !== session.userId) throw refuse('wrong_credentials');
        await checkCode(actor, user, proof.code);
        await store.clearFailures(db, user.id);
      }
      const secret = new Secret({ size: 20 });
      const sealed = encryptSecret(ring, secret.base32, userBinding(session.userId));
      await store.putPendingTotp(db, session.userId, sealed);
      await audit.record(actor, { workspaceId: null, action: 'auth.mfa_enrolment_started', category: 'auth', resource: { type: 'user', id: session.userId } });
      return { otpauth_url: totpFor(session.email, secret).toString() };
    },

    async confirmMfa(actor: Actor, session: OpenSession, code: string) {
      const pending = await openTotp(session.userId, session.email, 'totp_pending');
      if (!pending) throw invalid('start with POST /v1/auth/mfa/enroll', { field: 'code' });
      const step = stepOf(pending, code);
      if (step === null) throw invalid('the code is not valid for the enrolled secret', { field: 'code' });
      // A new authenticator comes with new recovery codes: the earlier ones stop working with it.
      const codes = await db.transaction().execute(async (trx) => {
        await store.confirmPendingTotp(trx, session.userId);
        const issued = await recovery.issue(trx, session.userId);
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.mfa_enabled', category: 'auth', resource: { type: 'user', id: session.userId }, after: { recovery_codes: issued.length } });
        return issued;
      });
      // The confirming code is spent: it cannot sign in afterwards.
      await store.markTotpStep(db, session.userId, step);
      return { mfa_enabled: true, recovery_codes: codes };
    },

    regenerateRecoveryCodes: recovery.regenerate,
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
