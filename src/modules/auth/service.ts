import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { Counter, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { limitedSource } from '../../http/client-ip.js';
import { decryptSecret, encryptSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { AppError, invalid, notFound, present } from '../../lib/errors.js';
import { DUMMY_HASH, hashPassword, needsRehash, verifyPassword } from '../../lib/password.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { FailureSummary } from './failures.js';
import type { OpenSession, SessionStore } from './sessions.js';
import * as store from './store.js';

export type { LoginPolicy } from './store.js';

/** Sign-in attempts allowed per minute, counted before any password is hashed. */
export interface AttemptLimits {
  perIp: number;
  perAccount: number;
}

/** Both purposes (pending and confirmed) seal under one binding: confirming renames the row. */
export const userBinding = (userId: string) => `user:${userId}|totp`;
const PERIOD_S = 30;
const totpFor = (email: string, secret: Secret) => new TOTP({ issuer: 'Gatehouse', label: email, secret, algorithm: 'SHA1', digits: 6, period: PERIOD_S });
const LOGIN_ROUTE = 'POST /v1/auth/login';

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
}

type User = NonNullable<Awaited<ReturnType<typeof store.userByEmail>>>;

export function createAuthService({ db, ring, audit, sessions, policy, limits, limiter, failures, registry, passwordRefusedBy }: Deps) {
  const refuse = (reason: string, message = 'wrong email or password') => new AppError('unauthenticated', message, { reason });
  const tooMany = (reason: string, resetMs: number, message: string) => {
    const retryAfter = Math.max(1, Math.ceil((resetMs - Date.now()) / 1000));
    return new AppError('rate_limited', message, { reason, retry_after_s: retryAfter }, { 'retry-after': String(retryAfter) });
  };
  // Every sign-in that gets past the limits costs exactly one derivation, whoever the email names:
  // the count is how that is checked, since timing cannot be asserted.
  const derivations = new Counter({
    name: 'gatehouse_password_derivations_total',
    help: 'Password hash derivations made to check a sign-in (one per attempt that passes the limits)',
    registers: [registry],
  });

  async function openTotp(userId: string, email: string, purpose: 'totp' | 'totp_pending') {
    const row = await store.getUserSecret(db, userId, purpose);
    return row ? totpFor(email, Secret.fromBase32(decryptSecret(ring, row, userBinding(userId)))) : null;
  }

  /** The step a code belongs to (this one or a neighbour, for clock drift), or null. */
  function stepOf(totp: TOTP, code: string): number | null {
    const now = Date.now();
    const delta = totp.validate({ token: code, timestamp: now, window: 1 });
    return delta === null ? null : TOTP.counter({ period: PERIOD_S, timestamp: now }) + delta;
  }

  /** Per-address and per-account attempt limits, decided before any password is hashed. */
  async function admit(actor: Actor, email: string) {
    const ip = await limiter.consume(`login:ip:${limitedSource(actor.ip)}`, limits.perIp, 60);
    // The account's counter is keyed by a digest: addresses do not sit in Redis in clear.
    const account = ip.allowed ? await limiter.consume(`login:acct:${createHash('sha256').update(email).digest('hex')}`, limits.perAccount, 60) : null;
    const refused = !ip.allowed ? ip : account && !account.allowed ? account : null;
    if (!refused) return;
    const reason = refused === ip ? 'address_attempts' : 'account_attempts';
    failures.note(actor, { reason, route: LOGIN_ROUTE, limited: true });
    throw tooMany(reason, refused.reset, 'too many sign-in attempts: wait a moment and try again');
  }

  /** A wrong password or code for a known person: counted, the lock decided, audited in the chain. */
  async function failed(actor: Actor, user: User, reason: string) {
    const after = await store.recordFailure(db, user.id, policy);
    const lockedUntil = after?.locked_until ?? null;
    await audit.record(actor, {
      workspaceId: null,
      action: lockedUntil ? 'auth.locked' : 'auth.login_failed',
      category: 'auth',
      severity: 'warning',
      outcome: 'failure',
      resource: { type: 'user', id: user.id },
      after: { reason, ...(lockedUntil ? { locked_until: lockedUntil.toISOString() } : {}) },
    });
  }

  /**
   * The password check of a sign-in or a step-up: the limits, then one derivation whether or not
   * the email is known or the account locked, then the failure counted. Returns the person.
   */
  async function checkPassword(actor: Actor, email: string, password: string): Promise<User> {
    await admit(actor, email.toLowerCase());
    const user = await store.userByEmail(db, email);
    const lockedUntil = user?.locked_until && user.locked_until > new Date() ? user.locked_until : null;
    const locked = lockedUntil !== null;
    const stored = user && !locked && user.password_hash ? user.password_hash : DUMMY_HASH;
    derivations.inc();
    const ok = await verifyPassword(password, stored);
    if (locked) {
      // Not counted and not audited one by one: it neither extends the lock nor tells anything new.
      failures.note(actor, { reason: 'locked', route: LOGIN_ROUTE });
      throw tooMany('locked', lockedUntil.getTime(), 'too many failed sign-ins: the account is locked for a while');
    }
    if (!user || !user.password_hash) {
      failures.note(actor, { reason: 'unknown_email', route: LOGIN_ROUTE });
      throw refuse('wrong_credentials');
    }
    if (!ok) {
      await failed(actor, user, 'wrong_password');
      throw refuse('wrong_credentials');
    }
    if (needsRehash(user.password_hash)) await store.replaceHash(db, user.id, user.password_hash, await hashPassword(password));
    return user;
  }

  /** A current code of the person's confirmed authenticator, used once; failures count like passwords. */
  async function checkCode(actor: Actor, user: User, code: string) {
    const totp = await openTotp(user.id, user.email, 'totp');
    const step = totp ? stepOf(totp, code) : null;
    if (step !== null && (await store.consumeTotpStep(db, user.id, step))) return;
    const reason = step === null ? 'wrong_totp' : 'totp_reused';
    await failed(actor, user, reason);
    throw refuse(reason, step === null ? 'the code is not valid' : 'this code has been used already: wait for the next one');
  }

  return {
    /** Email + password (+ TOTP when enrolled); a new session, or 401 / 429 (limited or locked) with the reason. */
    async login(actor: Actor, input: { email: string; password: string; totp?: string }) {
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
      if (user.mfa_enabled) {
        if (!input.totp) throw refuse('totp_required', 'enter the 6-digit code from your authenticator app');
        await checkCode(actor, user, input.totp);
      }
      await store.clearFailures(db, user.id);
      const { token, csrfToken } = await sessions.open(user.id, actor.ip, actor.userAgent);
      await audit.record({ ...actor, type: 'user', id: user.id }, { workspaceId: null, action: 'auth.login', category: 'auth', resource: { type: 'user', id: user.id } });
      const session = present(await sessions.read(token), 'the session just opened');
      return { token, body: { user: userView(session), csrf_token: csrfToken } };
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
      await db.transaction().execute(async (trx) => {
        await store.confirmPendingTotp(trx, session.userId);
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.mfa_enabled', category: 'auth', resource: { type: 'user', id: session.userId } });
      });
      // The confirming code is spent: it cannot sign in afterwards.
      await store.markTotpStep(db, session.userId, step);
      return { mfa_enabled: true };
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
