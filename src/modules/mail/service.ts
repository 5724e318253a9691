import type { Kysely } from 'kysely';
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DB, Executor } from '../../db/types.js';
import { requirePlatformAdmin, type Actor } from '../../http/actor.js';
import { decryptSecret, encryptSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import { JOB } from '../../jobs/kinds.js';
import { enqueue as enqueueJob } from '../../jobs/queue.js';
import * as store from './store.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What the email is for (`password_reset`, `invitation`…), as the outbox lists it. */
  purpose: string;
  organizationId?: string | null;
}

/** The body's seal is bound to its message: a body copied to another row will not open. */
export const mailBodyBinding = (messageId: string) => `mail:${messageId}|body`;

/** Attempts before an email fails for good: with the jobs' backoff, about half an hour. */
export const MAIL_MAX_ATTEMPTS = 10;

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  log: Logger;
  registry: Registry;
  /** The SMTP server, credentials included; unset: nothing can be sent. */
  smtpUrl?: string;
  from: string;
}

/**
 * Email through a durable outbox: `enqueue` writes the email in the caller's transaction (so it
 * exists exactly when the change that caused it commits) with a mail.send job, and the job sends
 * it over SMTP, retried with the jobs' backoff. The body is sealed while it waits and deleted once
 * the email is sent or has failed for good: a reset link in a row is a credential.
 */
export function createMailService({ db, ring, log, registry, smtpUrl, from }: Deps) {
  // nodemailer waits up to 10 minutes on a silent socket by default: a dead server would hold a worker slot that long.
  const transport: Transporter | null = smtpUrl ? createTransport({ url: smtpUrl, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 }) : null;
  const sent = new Counter({
    name: 'gatehouse_mail_total',
    help: 'Email send attempts by outcome (sent, retry, failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  return {
    /** False when no SMTP server is configured: callers show a link to the person instead of emailing it. */
    configured: transport !== null,

    async enqueue(trx: Executor, message: MailMessage): Promise<{ id: string }> {
      // A caller that emails without checking `configured` would leave a link nobody receives.
      if (!transport) throw new Error('no SMTP server is configured (GATEHOUSE_SMTP_URL): check mail.configured before enqueueing');
      const id = newId('mail');
      const body = encryptSecret(ring, JSON.stringify({ text: message.text, html: message.html ?? null }), mailBodyBinding(id));
      await store.insertMessage(trx, { id, organization_id: message.organizationId ?? null, to_address: message.to, subject: message.subject, purpose: message.purpose }, body);
      await enqueueJob(trx, { kind: JOB.mailSend, payload: { message_id: id }, maxAttempts: MAIL_MAX_ATTEMPTS });
      return { id };
    },

    /**
     * The mail.send job: sends a queued email once. Throws when the server refuses it, so the job is
     * retried; `final` says this was the last attempt, after which the email is failed for good.
     */
    async send(messageId: string, attempt: { final: boolean }) {
      const row = await store.queuedMessage(db, messageId);
      if (!row) return { skipped: true };
      try {
        // Inside the try: a missing transport or a body that no longer opens is a failure recorded
        // like a refusal, so the last attempt still marks the message failed and drops its body.
        if (!transport) throw new Error('no SMTP server is configured (GATEHOUSE_SMTP_URL)');
        const body = JSON.parse(decryptSecret(ring, row, mailBodyBinding(row.id))) as { text: string; html: string | null };
        await transport.sendMail({
          from, to: row.to_address, subject: row.subject, text: body.text, ...(body.html ? { html: body.html } : {}),
          // Stable across retries: a receiver that got an attempt whose answer was lost can tell.
          messageId: `<${row.id}@gatehouse>`,
        });
      } catch (err) {
        // The server's answer, never the message: the body holds links that are credentials.
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
        await store.recordFailure(db, row.id, error, attempt.final);
        sent.inc({ outcome: attempt.final ? 'failed' : 'retry' });
        log.warn({ mail_id: row.id, final: attempt.final, err: error }, attempt.final ? 'email failed for good' : 'email refused; it will be retried');
        throw new Error(`email ${row.id} not sent: ${error}`);
      }
      await store.markSent(db, row.id);
      sent.inc({ outcome: 'sent' });
      return { sent: true };
    },

    /** The outbox without bodies (platform admin; organization admins will see their own). */
    async list(actor: Actor, filter: { organization_id?: string }, page: PageRequest) {
      requirePlatformAdmin(actor);
      const rows = await store.listMessages(db, { organizationId: filter.organization_id }, page);
      return toPage(rows, page, (r) => ({
        id: r.id, organization_id: r.organization_id, to: r.to_address, subject: r.subject, purpose: r.purpose, status: r.status,
        attempts: r.attempts, last_error: r.last_error, created_at: r.created_at.toISOString(), sent_at: r.sent_at?.toISOString() ?? null,
      }));
    },

    /** Where these emails stand, for the features that sent them (an invitation's list shows it). */
    async statusOf(ids: readonly string[]): Promise<Map<string, 'queued' | 'sent' | 'failed'>> {
      return new Map((await store.statusOf(db, ids)).map((r) => [r.id, r.status]));
    },

    close() {
      transport?.close();
    },
  };
}
export type MailService = ReturnType<typeof createMailService>;
