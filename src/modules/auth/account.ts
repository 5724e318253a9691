import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { invalid } from '../../lib/errors.js';
import { hashPassword } from '../../lib/password.js';
import type { AuditService } from '../audit/service.js';
import type { MailService } from '../mail/service.js';
import type { CredentialChecks } from './credentials.js';
import type { OpenSession, SessionStore } from './sessions.js';
import * as store from './store-account.js';
import { userByEmail } from './store.js';

/** How long an emailed reset link works. */
export const RESET_TTL_MS = 3600_000;
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  sessions: SessionStore;
  checks: CredentialChecks;
  mail: Pick<MailService, 'configured' | 'enqueue'>;
  /** The base of emailed links (GATEHOUSE_PUBLIC_URL). */
  publicUrl: string;
  log: Logger;
  registry: Registry;
}

/** A person's password: changed with the current one, or reset through a link emailed to them. */
export function createAccountLifecycle({ db, audit, sessions, checks, mail, publicUrl, log, registry }: Deps) {
  const resets = new Counter({
    name: 'gatehouse_password_reset_requests_total',
    help: 'Password reset requests by outcome (emailed, unknown_email, no_smtp: no SMTP server, nothing can be emailed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  return {
    /** The current password proves it is the person; their other sessions end with the old password. */
    async changePassword(actor: Actor, session: { token: string; open: OpenSession }, input: { current: string; new: string }) {
      const user = await checks.checkPassword(actor, session.open.email, input.current);
      if (user.id !== session.open.userId) throw checks.refuse('wrong_credentials');
      const hash = await hashPassword(input.new);
      const ended = await db.transaction().execute(async (trx) => {
        await store.setPassword(trx, user.id, hash);
        // A reset link asked for before the change would otherwise undo it.
        await store.spendResetsOf(trx, user.id);
        const n = await sessions.endOthers(user.id, session.token, trx);
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.password_changed', category: 'auth', resource: { type: 'user', id: user.id }, after: { sessions_ended: n } });
        return n;
      });
      return { sessions_ended: ended };
    },

    /**
     * Emails a reset link when the address is a person's. The caller answers the same whatever
     * happens here, so the answer never tells whether an address has an account.
     */
    async requestPasswordReset(actor: Actor, email: string) {
      // The sign-in limits: the same counters, so a reset cannot be used to guess around them.
      await checks.admit(actor, email.toLowerCase());
      if (!mail.configured) {
        resets.inc({ outcome: 'no_smtp' });
        log.warn('a password reset was asked for, but no SMTP server is configured (GATEHOUSE_SMTP_URL): nothing was emailed');
        return;
      }
      const user = await userByEmail(db, email);
      if (!user) {
        resets.inc({ outcome: 'unknown_email' });
        return;
      }
      const token = randomBytes(32).toString('base64url');
      const link = `${publicUrl}/reset-password?token=${token}`;
      await db.transaction().execute(async (trx) => {
        await store.insertReset(trx, { token_hash: digest(token), user_id: user.id, expires_at: new Date(Date.now() + RESET_TTL_MS) });
        await mail.enqueue(trx, {
          to: user.email, subject: 'Reset your Gatehouse password', purpose: 'password_reset',
          text: `Someone (hopefully you) asked to reset the password of ${user.email} on Gatehouse.\n\nSet a new password within an hour: ${link}\n\nIf it was not you, ignore this email: your password stays as it is.\n`,
        });
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.password_reset_requested', category: 'auth', resource: { type: 'user', id: user.id } });
      });
      resets.inc({ outcome: 'emailed' });
    },

    /** Sets the password from a reset link: used once, within the hour; every session ends, the lock clears. */
    async confirmPasswordReset(actor: Actor, input: { token: string; password: string }) {
      const tokenHash = digest(input.token);
      const refuseLink = (reset: Awaited<ReturnType<typeof store.resetByHash>>) => {
        if (!reset) return invalid('this reset link is not valid: ask for a new one', { field: 'token', reason: 'token_unknown' });
        if (reset.used_at) return invalid('this reset link has been used already: ask for a new one', { field: 'token', reason: 'token_used' });
        if (reset.expires_at <= new Date()) return invalid('this reset link has expired: ask for a new one', { field: 'token', reason: 'token_expired' });
        return null;
      };
      // The link is checked before the new password is hashed, so made-up tokens cost no derivation.
      const early = refuseLink(await store.resetByHash(db, tokenHash));
      if (early) throw early;
      const hash = await hashPassword(input.password);
      await db.transaction().execute(async (trx) => {
        // Again under the row lock: of two requests with one link, the second finds it used.
        const reset = await store.resetByHash(trx, tokenHash, { lock: true });
        const refused = refuseLink(reset);
        if (!reset || refused) throw refused ?? refuseLink(undefined);
        await store.setPassword(trx, reset.user_id, hash);
        await store.spendResetsOf(trx, reset.user_id);
        await sessions.endAll(reset.user_id, trx);
        await audit.append(trx, { ...actor, type: 'user', id: reset.user_id }, { workspaceId: null, action: 'auth.password_reset', category: 'auth', resource: { type: 'user', id: reset.user_id } });
      });
    },
  };
}
