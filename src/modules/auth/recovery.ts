import { createHash, randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { invalid } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { CredentialChecks, User } from './credentials.js';
import type { OpenSession } from './sessions.js';
import * as store from './store-account.js';
import { clearFailures } from './store.js';

export const RECOVERY_CODE_COUNT = 10;
// Crockford's base32 without the letters read as digits: 10 characters, 50 bits a code. A code is
// only ever tried behind the sign-in limits and the lock, so SHA-256 (not a slow hash) stores it.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Codes are read off paper and typed: case, spaces and dashes do not matter. */
export const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');
const digest = (code: string) => createHash('sha256').update(normalizeRecoveryCode(code)).digest('hex');

function newCode(): string {
  const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

/** One-time codes that stand in for a TOTP code when the authenticator is lost. */
export function createRecoveryCodes({ db, audit, checks }: { db: Kysely<DB>; audit: AuditService; checks: CredentialChecks }) {
  /** New codes for the person in `trx`, replacing any before; shown once, stored as digests. */
  async function issue(trx: Executor, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
    await store.replaceRecoveryCodes(trx, userId, codes.map(digest));
    return codes;
  }

  return {
    issue,

    /** A sign-in's code: spent once, a wrong one counted like a wrong password; how many remain. */
    async use(actor: Actor, user: User, code: string): Promise<number> {
      if (!(await store.spendRecoveryCode(db, user.id, digest(code)))) {
        await checks.failed(actor, user, 'wrong_recovery_code');
        throw checks.refuse('wrong_recovery_code', 'the recovery code is not valid, or has been used already');
      }
      const remaining = await store.unusedRecoveryCodes(db, user.id);
      await audit.record({ ...actor, type: 'user', id: user.id }, {
        workspaceId: null, action: 'auth.recovery_code_used', category: 'auth', severity: 'warning',
        resource: { type: 'user', id: user.id }, after: { remaining },
      });
      return remaining;
    },

    /** New codes for a person with MFA, who proves it with the password and a current code. */
    async regenerate(actor: Actor, session: OpenSession, proof: { password: string; code: string }) {
      if (!session.mfaEnabled) throw invalid('recovery codes stand in for an authenticator: turn on MFA first', { reason: 'mfa_not_enabled' });
      const user = await checks.checkPassword(actor, session.email, proof.password);
      if (user.id !== session.userId) throw checks.refuse('wrong_credentials');
      await checks.checkCode(actor, user, proof.code);
      await clearFailures(db, user.id);
      const codes = await db.transaction().execute(async (trx) => {
        const fresh = await issue(trx, user.id);
        await audit.append(trx, actor, { workspaceId: null, action: 'auth.recovery_codes_generated', category: 'auth', resource: { type: 'user', id: user.id } });
        return fresh;
      });
      return { recovery_codes: codes };
    },
  };
}
export type RecoveryCodes = ReturnType<typeof createRecoveryCodes>;
