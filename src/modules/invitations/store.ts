import { sql, type Insertable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { pageAfter } from '../../db/paging.js';
import type { PageRequest } from '../../lib/paging.js';

export async function insertInvitation(trx: Executor, row: Insertable<DB['invitations']>) {
  return trx.insertInto('invitations').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function getInvitation(db: Executor, id: string) {
  return db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function byTokenHash(db: Executor, tokenHash: string) {
  return db.selectFrom('invitations').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** The open (neither accepted nor revoked) invitation of this email to this organization, expired or not. */
export async function openInvitation(db: Executor, organizationId: string, email: string) {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function revoke(trx: Executor, id: string) {
  return trx.updateTable('invitations').set({ revoked_at: new Date() }).where('id', '=', id).where('accepted_at', 'is', null).where('revoked_at', 'is', null).returningAll().executeTakeFirst();
}

/** A new token and expiry for an open invitation: the link sent before stops working. */
export async function renew(trx: Executor, id: string, tokenHash: string, expiresAt: Date) {
  return trx
    .updateTable('invitations')
    .set({ token_hash: tokenHash, expires_at: expiresAt })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function setMail(trx: Executor, id: string, mailId: string) {
  await trx.updateTable('invitations').set({ mail_id: mailId }).where('id', '=', id).execute();
}

/** Marks the invitation accepted if it is still open and unexpired, in one statement: a link works once. */
export async function claim(trx: Executor, tokenHash: string, now: Date) {
  return trx
    .updateTable('invitations')
    .set({ accepted_at: new Date() })
    .where('token_hash', '=', tokenHash)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export async function setAcceptedBy(trx: Executor, id: string, userId: string) {
  await trx.updateTable('invitations').set({ accepted_by: userId }).where('id', '=', id).execute();
}

export async function listInvitations(db: Executor, organizationId: string, page: PageRequest) {
  const q = db.selectFrom('invitations').selectAll().where('organization_id', '=', organizationId);
  return pageAfter(q, 'invitations', page, { order: 'desc', within: { organization_id: organizationId } }).execute();
}
