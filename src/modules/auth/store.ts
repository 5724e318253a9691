import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';
import type { SealedTable } from '../../db/sealed.js';
import { exponential } from '../../lib/backoff.js';

export interface LoginPolicy {
  /** Failed sign-ins in a row before the account locks. */
  lockAfter: number;
  /** The first lock's length; each failure after a lock has run out doubles it (a day at most). */
  lockS: number;
}

/** The first lock lasts lockS; each failure after a lock has run out doubles it, a day at most. */
export const loginLockBackoff = (policy: LoginPolicy) => exponential({ firstMs: policy.lockS * 1000, capMs: 86_400_000 });

/** A person's sign-in state, by email (the view is auth's; the person's identity is tenancy's). */
export const userByEmail = async (db: Executor, email: string) => {
  const row = await db.selectFrom('user_logins').selectAll().where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).executeTakeFirst();
  return row && { ...row, id: row.user_id };
};

/**
 * Counts a failure and decides the lock in one statement, so parallel guesses each count. A
 * failure while the account is locked matches no row: it neither counts nor extends the lock.
 * Returns undefined in that case.
 */
export async function recordFailure(db: Executor, userId: string, policy: LoginPolicy) {
  // The lock is decided in the statement that counts the failure, so its length is computed in
  // SQL, from the numbers of the one backoff policy (lib/backoff.ts: lock n lasts first·2^(n−1)).
  const lock = loginLockBackoff(policy);
  const { rows } = await sql<{ failed_logins: number; locked_until: Date | null }>`
    update user_logins set
      failed_logins = failed_logins + 1,
      locked_until = case when failed_logins + 1 >= ${policy.lockAfter}
        then now() + make_interval(secs => least(${lock.firstMs / 1000}::float8 * power(${lock.factor}, failed_logins + 1 - ${policy.lockAfter}), ${lock.capMs / 1000}))
        else null end
    where user_id = ${userId} and (locked_until is null or locked_until <= now())
    returning failed_logins, locked_until`.execute(db);
  return rows[0];
}

export async function clearFailures(db: Executor, userId: string) {
  await db.updateTable('user_logins').set({ failed_logins: 0, locked_until: null }).where('user_id', '=', userId).where('failed_logins', '>', 0).execute();
}

/**
 * Marks a TOTP step as used, only if no equal or later step was used before: of two requests
 * carrying one code, exactly one gets true.
 */
export async function consumeTotpStep(db: Executor, userId: string, step: number): Promise<boolean> {
  const { rows } = await sql`
    update user_logins set totp_last_step = ${step}
    where user_id = ${userId} and (totp_last_step is null or totp_last_step < ${step})
    returning user_id`.execute(db);
  return rows.length === 1;
}

/** Records a step as seen without refusing anything (a new authenticator's confirming code). */
export async function markTotpStep(db: Executor, userId: string, step: number) {
  await sql`update user_logins set totp_last_step = greatest(coalesce(totp_last_step, ${step}), ${step}) where user_id = ${userId}`.execute(db);
}

/** A stronger hash of the same password; left alone if the password changed meanwhile. */
export async function replaceHash(db: Executor, userId: string, previous: string, next: string) {
  await db.updateTable('user_logins').set({ password_hash: next }).where('user_id', '=', userId).where('password_hash', '=', previous).execute();
}

export type TotpPurpose = 'totp' | 'totp_pending';

export async function getUserSecret(db: Executor, userId: string, purpose: TotpPurpose) {
  return db.selectFrom('user_secrets').selectAll().where('user_id', '=', userId).where('purpose', '=', purpose).executeTakeFirst();
}

/** No mask: the secret is shown once, as the QR code, and never again in any form. */
export async function putPendingTotp(db: Executor, userId: string, sealed: Sealed) {
  const row = { user_id: userId, purpose: 'totp_pending' as const, ...sealed, mask: null, updated_at: new Date() };
  await db.insertInto('user_secrets').values(row).onConflict((oc) => oc.columns(['user_id', 'purpose']).doUpdateSet({ ...sealed, mask: null, updated_at: row.updated_at })).execute();
}

/** The pending authenticator replaces the confirmed one, and the person has two-factor from now on. */
export async function confirmPendingTotp(trx: Executor, userId: string) {
  await trx.deleteFrom('user_secrets').where('user_id', '=', userId).where('purpose', '=', 'totp').execute();
  await trx.updateTable('user_secrets').set({ purpose: 'totp' }).where('user_id', '=', userId).where('purpose', '=', 'totp_pending').execute();
  await trx.updateTable('user_logins').set({ mfa_enabled: true }).where('user_id', '=', userId).execute();
}

/** People's authenticator secrets, confirmed and pending. */
export const USER_SECRETS: SealedTable = { table: 'user_secrets', keys: ['user_id', 'purpose'], from: sql`user_secrets s`, extra: sql`null as none` };
