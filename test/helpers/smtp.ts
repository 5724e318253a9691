import pino from 'pino';
import { jobHandlers, JOB } from '../../src/jobs/handlers.js';
import { createWorker, type Worker } from '../../src/jobs/worker.js';
import type { TestApp } from './app.js';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  /** smtp://127.0.0.1:<port>, for GATEHOUSE_SMTP_URL. */
  url: string;
  /** Every email accepted so far, parsed. */
  messages: ParsedMail[];
  /** The next `n` emails are refused with a temporary error (451), as a busy server does. */
  refuseNext(n: number): void;
  /** How many emails were refused so far. */
  refused(): number;
  /** The first email (already received or still to come) that `match` accepts. */
  waitFor(match: (m: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

/** A real SMTP server on loopback (plain, no authentication) that keeps what it receives. */
export async function startSmtp(): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  const arrivals = new EventEmitter();
  let toRefuse = 0;
  let refusedCount = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (toRefuse > 0) {
        toRefuse--;
        refusedCount++;
        return callback(Object.assign(new Error('mailbox busy, try again later'), { responseCode: 451 }));
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          arrivals.emit('mail', mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    refuseNext(n) {
      toRefuse = n;
    },
    refused: () => refusedCount,
    waitFor(match, timeoutMs = 15_000) {
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          arrivals.off('mail', onMail);
          reject(new Error(`no matching email within ${timeoutMs} ms (received ${messages.length})`));
        }, timeoutMs);
        const onMail = (m: ParsedMail) => {
          if (!match(m)) return;
          clearTimeout(timer);
          arrivals.off('mail', onMail);
          resolve(m);
        };
        arrivals.on('mail', onMail);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A jobs worker for the app's mail kind alone (other schedules would add noise to the jobs table), started. */
export async function startMailWorker(t: TestApp): Promise<Worker> {
  const worker = createWorker({
    database: t.services.database, log: pino({ level: 'silent' }), metrics: t.services.metrics,
    handlers: { [JOB.mailSend]: jobHandlers(t.services)[JOB.mailSend] }, concurrency: 2, pollMs: 100,
  });
  await worker.start();
  return worker;
}
