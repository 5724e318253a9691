import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JOB } from '../../src/jobs/handlers.js';
import type { Worker } from '../../src/jobs/worker.js';
import { mailSealedColumns } from '../../src/modules/mail/sealed.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { person, signIn } from '../helpers/people.js';
import { startMailWorker, startSmtp, type TestSmtp } from '../helpers/smtp.js';

let t: TestApp;
let smtp: TestSmtp;
let worker: Worker;

beforeAll(async () => {
  smtp = await startSmtp();
  t = await createTestApp({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_MAIL_FROM: 'Gatehouse <no-reply@gatehouse.test>' });
  worker = await startMailWorker(t);
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await smtp?.close();
});

const uniqueAddress = () => `to-${Math.random().toString(36).slice(2, 10)}@example.com`;
const outbox = async (query = '') => (await t.call(t.adminKey, 'GET', `/v1/mail/outbox${query}`)).body.data as Array<Record<string, unknown>>;

describe('mail outbox', () => {
  test('an email enqueued in a committed transaction is sent by the job, and its body is gone afterwards', async () => {
    const to = uniqueAddress();
    const secretLink = 'https://gatehouse.test/reset-password?token=s3cr3t-token-value';
    const { id } = await t.services.database.db.transaction().execute((trx) =>
      t.services.mail.enqueue(trx, { to, subject: 'Reset your password', text: `Follow ${secretLink}`, html: `<a href="${secretLink}">reset</a>`, purpose: 'password_reset' }),
    );
    const mail = await smtp.waitFor((m) => m.subject === 'Reset your password' && m.text?.includes(secretLink) === true);
    expect(mail.from?.text).toContain('no-reply@gatehouse.test');
    expect(mail.html).toContain(secretLink);
    expect(mail.messageId).toBe(`<${id}@gatehouse>`);

    await expect.poll(async () => (await outbox()).find((m) => m.id === id)?.status).toBe('sent');
    const res = await t.call(t.adminKey, 'GET', '/v1/mail/outbox');
    const row = res.body.data.find((m: { id: string }) => m.id === id);
    expect(row).toMatchObject({ to, subject: 'Reset your password', purpose: 'password_reset', status: 'sent', attempts: 1, last_error: null, organization_id: null });
    expect(row.sent_at).toEqual(expect.any(String));
    expect(res.raw).not.toContain('s3cr3t-token-value');
    // The sealed body was deleted with the send: nothing waits, nothing to re-wrap.
    expect(await mailSealedColumns(t.services.database.db).count()).toBe(0);
    expect(t.logs.join('')).not.toContain('s3cr3t-token-value');
  });

  test('a refused first attempt is retried with backoff and recorded', async () => {
    const to = uniqueAddress();
    smtp.refuseNext(1);
    const refusedBefore = smtp.refused();
    const { id } = await t.services.database.db.transaction().execute((trx) =>
      t.services.mail.enqueue(trx, { to, subject: 'Second try', text: 'hello', purpose: 'test' }),
    );
    await smtp.waitFor((m) => m.subject === 'Second try');
    expect(smtp.refused()).toBe(refusedBefore + 1);
    await expect.poll(async () => (await outbox()).find((m) => m.id === id)?.status, { timeout: 10_000 }).toBe('sent');
    const row = (await outbox()).find((m) => m.id === id);
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(String(row?.last_error)).toContain('451');
  });

  test('nothing is sent when the transaction that enqueued the email rolls back', async () => {
    const rolledBackTo = uniqueAddress();
    await expect(
      t.services.database.db.transaction().execute(async (trx) => {
        await t.services.mail.enqueue(trx, { to: rolledBackTo, subject: 'Never', text: 'never sent', purpose: 'test' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    // No row and no job survived the rollback, so there is nothing left that could send it.
    expect((await outbox()).some((m) => m.to === rolledBackTo)).toBe(false);
    const jobs = await t.services.database.db.selectFrom('jobs').select('payload').where('kind', '=', JOB.mailSend).execute();
    const outboxIds = new Set((await outbox()).map((m) => m.id));
    expect(jobs.every((j) => outboxIds.has((j.payload as { message_id: string }).message_id))).toBe(true);

    // An email enqueued afterwards goes out, and the rolled-back one is not among what arrived.
    const laterTo = uniqueAddress();
    await t.services.database.db.transaction().execute((trx) => t.services.mail.enqueue(trx, { to: laterTo, subject: 'After', text: 'sent', purpose: 'test' }));
    await smtp.waitFor((m) => m.to !== undefined && JSON.stringify(m.to).includes(laterTo));
    expect(smtp.messages.some((m) => JSON.stringify(m.to).includes(rolledBackTo))).toBe(false);
  });

  test('the last refused attempt fails the email for good and deletes its body', async () => {
    await worker.stop();
    try {
      const to = uniqueAddress();
      const { id } = await t.services.database.db.transaction().execute((trx) =>
        t.services.mail.enqueue(trx, { to, subject: 'Doomed', text: 'secret body', purpose: 'test', organizationId: 'org_filed' }),
      );
      smtp.refuseNext(1);
      await expect(t.services.mail.send(id, { final: true })).rejects.toThrow(/not sent/);
      const rows = await outbox('?organization_id=org_filed');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id, status: 'failed', attempts: 1, organization_id: 'org_filed' });
      expect(await mailSealedColumns(t.services.database.db).count()).toBe(0);
      // A failed email is not sent again by a later run of its job.
      await expect(t.services.mail.send(id, { final: true })).resolves.toEqual({ skipped: true });
    } finally {
      await worker.start();
    }
  });

  test('only the platform admin lists the outbox', async () => {
    const p = await person(t);
    const call = await signIn(t, p.email);
    const res = await call('GET', '/v1/mail/outbox');
    expect(res.status).toBe(403);
    expect((await t.call(null, 'GET', '/v1/mail/outbox')).status).toBe(401);
  });
});

describe('mail without an SMTP server', () => {
  test('is not configured, and enqueueing is refused rather than stored for nobody', async () => {
    const bare = await createTestApp();
    try {
      expect(bare.services.mail.configured).toBe(false);
      await expect(
        bare.services.database.db.transaction().execute((trx) => bare.services.mail.enqueue(trx, { to: 'a@example.com', subject: 's', text: 't', purpose: 'test' })),
      ).rejects.toThrow(/GATEHOUSE_SMTP_URL/);
    } finally {
      await bare.close();
    }
  });
});
