import { sql } from 'kysely';
import type { SealedTable } from '../../db/sealed.js';
import { pageAfter } from '../../db/paging.js';
import type { Executor } from '../../db/types.js';
import type { Sealed } from '../../lib/envelope.js';
import type { PageRequest } from '../../lib/paging.js';

/** The outbox's statements. An email belongs to no workspace; organization_id only files it. */

export interface NewMessage {
  id: string;
  organization_id: string | null;
  to_address: string;
  subject: string;
  purpose: string;
}

export async function insertMessage(trx: Executor, message: NewMessage, body: Sealed) {
  await trx.insertInto('mail_outbox').values(message).execute();
  await trx.insertInto('mail_bodies').values({ message_id: message.id, ...body }).execute();
}

/** A queued email with its sealed body, or undefined when it was sent or failed meanwhile. */
export async function queuedMessage(db: Executor, id: string) {
  return db
    .selectFrom('mail_outbox as m')
    .innerJoin('mail_bodies as b', 'b.message_id', 'm.id')
    .select(['m.id', 'm.to_address', 'm.subject', 'b.master_version', 'b.wrapped_key', 'b.ciphertext'])
    .where('m.id', '=', id)
    .where('m.status', '=', 'queued')
    .executeTakeFirst();
}

/** Sent: counted, and its body, needed no longer, deleted (last_error stays: it tells why earlier attempts failed). */
export async function markSent(db: Executor, id: string) {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('mail_outbox').set((eb) => ({ status: 'sent', sent_at: new Date(), attempts: eb('attempts', '+', 1) })).where('id', '=', id).execute();
    await trx.deleteFrom('mail_bodies').where('message_id', '=', id).execute();
  });
}

/** A refused or failed attempt; the last one fails the email for good and deletes its body. */
export async function recordFailure(db: Executor, id: string, error: string, final: boolean) {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('mail_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error, ...(final ? { status: 'failed' as const } : {}) }))
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .execute();
    if (final) await trx.deleteFrom('mail_bodies').where('message_id', '=', id).execute();
  });
}

/** The outbox, newest first, optionally of one organization; never the body. */
export async function listMessages(db: Executor, filter: { organizationId?: string }, page: PageRequest) {
  let q = db
    .selectFrom('mail_outbox')
    .select(['id', 'organization_id', 'to_address', 'subject', 'purpose', 'status', 'attempts', 'last_error', 'created_at', 'sent_at']);
  if (filter.organizationId !== undefined) q = q.where('organization_id', '=', filter.organizationId);
  return pageAfter(q, 'mail_outbox', page, { order: 'desc' }).execute();
}

/** The bodies of emails not sent yet, sealed. */
export const MAIL_BODIES: SealedTable = { table: 'mail_bodies', keys: ['message_id'], from: sql`mail_bodies s`, extra: sql`null as none` };

/** Where these emails stand (queued, sent, failed), by id. */
export async function statusOf(db: Executor, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.selectFrom('mail_outbox').select(['id', 'status']).where('id', 'in', ids).execute();
}
