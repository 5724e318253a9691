import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { Counter, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { limitedSource } from '../../http/client-ip.js';
import { decryptSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { AppError } from '../../lib/errors.js';
import { DUMMY_HASH, hashPassword, needsRehash, verifyPassword } from '../../lib/password.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { FailureSummary } from './failures.js';
import * as store from './store.js';

/** Sign-in attempts allowed per minute, counted before any password is hashed. */
export interface AttemptLimits {
  perIp: number;
  perAccount: number;
}

/** Both purposes (pending and confirmed) seal under one binding: confirming renames the row. */
export const userBinding = (userId: string) => `user:${userId}|totp`;
export const PERIOD_S = 30;
export const totpFor = (email: string, secret: Secret) => new TOTP({ issuer: 'Gatehouse', label: email, secret, algorithm: 'SHA1', digits: 6, period: PERIOD_S });
export const LOGIN_ROUTE = 'POST /v1/auth/login';

export type User = NonNullable<Awaited<ReturnType<typeof store.userByEmail>>>;

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  policy: store.LoginPolicy;
  limits: AttemptLimits;
  limiter: RateLimiter;
  failures: FailureSummary;
  registry: Registry;
}

/**
 * The checks of who someone is, shared by sign-in and every step-up (a new authenticator, a
 * password change, new recovery codes): attempt limits, one derivation per attempt, failures
 * counted towards the lock and audited.
 */
export function createCredentialChecks({ db, ring, audit, policy, limits, limiter, failures, registry }: Deps) {
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

  return { refuse, tooMany, openTotp, stepOf, admit, failed, checkPassword, checkCode };
}
export type CredentialChecks = ReturnType<typeof createCredentialChecks>;
