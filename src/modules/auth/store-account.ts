import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';

/** Password resets and recovery codes: only SHA-256 digests of the tokens and codes are stored. */

export async function insertReset(trx: Executor, row: { token_hash: string; user_id: string; expires_at: Date }) {
  await trx.insertInto('password_resets').values(row).execute();
}

/** A reset by its token's digest; `lock` holds it until the transaction ends, so it is used once. */
export async function resetByHash(db: Executor, tokenHash: string, opts: { lock?: boolean } = {}) {
  const q = db.selectFrom('password_resets').select(['user_id', 'expires_at', 'used_at']).where('token_hash', '=', tokenHash);
  return (opts.lock ? q.forUpdate() : q).executeTakeFirst();
}

/** Every open reset of the person is spent: a password set by one link ends the others too. */
export async function spendResetsOf(trx: Executor, userId: string) {
  await trx.updateTable('password_resets').set({ used_at: new Date() }).where('user_id', '=', userId).where('used_at', 'is', null).execute();
}

/** A new password; the sign-in failures and any lock go with the old one. */
export async function setPassword(trx: Executor, userId: string, passwordHash: string) {
  await trx.updateTable('user_logins').set({ password_hash: passwordHash, failed_logins: 0, locked_until: null }).where('user_id', '=', userId).execute();
}

/** The person's recovery codes are these from now on; earlier ones, used or not, stop working. */
export async function replaceRecoveryCodes(trx: Executor, userId: string, codeHashes: string[]) {
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await trx.insertInto('recovery_codes').values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash }))).execute();
}

/** Spends a code in one statement: of two requests carrying it, exactly one gets true. */
export async function spendRecoveryCode(db: Executor, userId: string, codeHash: string): Promise<boolean> {
  const { rows } = await sql`
    update recovery_codes set used_at = now()
    where user_id = ${userId} and code_hash = ${codeHash} and used_at is null
    returning user_id`.execute(db);
  return rows.length === 1;
}

export async function unusedRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const row = await db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
  return Number(row?.n ?? 0);
}
