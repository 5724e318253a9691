import type { ExpressionBuilder, Insertable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';

/** Not ended, not past its absolute end, not idle longer than `idleS`. */
const isOpen = (idleS: number) => (eb: ExpressionBuilder<DB, 'sessions'>) =>
  eb.and([eb('ended_at', 'is', null), eb('expires_at', '>', new Date()), eb('last_seen_at', '>', new Date(Date.now() - idleS * 1000))]);

export async function insertSession(db: Executor, row: Insertable<DB['sessions']>) {
  await db.insertInto('sessions').values(row).execute();
}

/** A person's open sessions, newest first. */
export async function openSessionsOf(db: Executor, userId: string, idleS: number) {
  return db
    .selectFrom('sessions')
    .select(['id_hash', 'public_id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where(isOpen(idleS))
    .orderBy('created_at', 'desc')
    .execute();
}

/** Ends one of the person's own open sessions; false when they have none by that id. */
export async function endOpenSession(db: Executor, userId: string, publicId: string, idleS: number) {
  const ended = await db.updateTable('sessions').set({ ended_at: new Date() }).where('user_id', '=', userId).where(isOpen(idleS)).where('public_id', '=', publicId).executeTakeFirst();
  return ended.numUpdatedRows > 0n;
}

export async function openSession(db: Executor, idHash: string, idleS: number) {
  return db.selectFrom('sessions').select(['user_id', 'csrf_token', 'last_seen_at']).where('id_hash', '=', idHash).where(isOpen(idleS)).executeTakeFirst();
}

export async function touchSession(db: Executor, idHash: string) {
  await db.updateTable('sessions').set({ last_seen_at: new Date() }).where('id_hash', '=', idHash).execute();
}

export async function endSession(db: Executor, idHash: string) {
  await db.updateTable('sessions').set({ ended_at: new Date() }).where('id_hash', '=', idHash).execute();
}

export async function endSessionsOf(db: Executor, userId: string) {
  await db.updateTable('sessions').set({ ended_at: new Date() }).where('user_id', '=', userId).where('ended_at', 'is', null).execute();
}

/** Every session of a person but one (a password change keeps the session that made it). */
export async function endSessionsOfExcept(db: Executor, userId: string, keepIdHash: string) {
  const r = await db.updateTable('sessions').set({ ended_at: new Date() }).where('user_id', '=', userId).where('ended_at', 'is', null).where('id_hash', '<>', keepIdHash).executeTakeFirst();
  return Number(r.numUpdatedRows);
}
