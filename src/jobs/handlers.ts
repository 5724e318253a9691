import { pruneFinishedDeliveries, pruneUnreferencedEvents } from '../modules/webhooks/queue.js';
import { alertSilentSources, pruneInboundEvents, pruneInboundRejections } from '../modules/inbound/health.js';
import type { Config } from '../config.js';
import { systemActor } from '../http/actor.js';
import type { Services } from '../services.js';
import { enqueue, pruneFinishedJobs } from './queue.js';
import { PRUNE_RUN_BUDGET_MS, pruneInBatches, type PruneBatch, type PruneOutcome } from './retention.js';
import type { JobHandlers, Schedule } from './worker.js';
import { JOB, type JobKind, type JobPayloads } from './kinds.js';

export { JOB };

const jobActor = (name: string) => ({ ...systemActor(), id: `job:${name}` });
const daysAgo = (days: number) => new Date(Date.now() - days * 86400_000);

/** What each job kind does; a handler throws to have its job retried with backoff. */
export function jobHandlers(services: Services): JobHandlers<JobPayloads> {
  const { log, config } = services;
  const { db } = services.database;

  /**
   * One prune run: each table in turn (in the order given: a parent's rows go after the rows that
   * keep it), in bounded batches. A run that reaches its budget queues a job for the rest rather than
   * outliving its lease. What it did per table is the job's result.
   */
  const prune = async (kind: JobKind, tables: Record<string, PruneBatch>) => {
    const deadline = Date.now() + PRUNE_RUN_BUDGET_MS;
    const result: Record<string, PruneOutcome> = {};
    for (const [table, deleteBatch] of Object.entries(tables)) {
      const outcome = (result[table] = await pruneInBatches(deleteBatch, { deadline }));
      if (outcome.removed) log.info({ table, ...outcome }, 'pruned rows past retention');
      if (!outcome.done) {
        await enqueue(db, { kind, maxAttempts: 1 });
        break;
      }
    }
    return result;
  };

  return {
    [JOB.usageFlush]: async (payload) => services.apiKeys.applyUsageBatch(payload.entries),
    [JOB.revokeDueKeys]: async () => {
      const n = await services.apiKeys.revokeDueKeys();
      if (n) log.info({ keys: n }, 'revoked keys whose rotation grace or expiry passed');
    },
    [JOB.pruneJobs]: async () => {
      const before = daysAgo(1);
      return prune(JOB.pruneJobs, { jobs: (n) => pruneFinishedJobs(db, before, n) });
    },
    [JOB.monitorCredentials]: async () => {
      const { tested, failed } = await services.upstream.testAll();
      log.info({ tested, failed }, 'credential monitor finished');
    },
    [JOB.syncEmailBison]: async () => {
      // One workspace's failure is recorded on its own sync run; it does not stop the others.
      for (const workspaceId of await services.emailbison.workspacesToSync()) {
        await services.emailbison.syncSenderEmails(jobActor('emailbison-sync'), workspaceId, 'job').catch((err) =>
          log.warn({ workspace_id: workspaceId, err: err.message }, 'sender-email sync failed'),
        );
      }
    },
    [JOB.generateTokens]: async (p, _job, signal) =>
      services.emailbison.generateTokens({ ...systemActor(), id: p.requested_by }, p.items, { instance: p.instance, batchSize: p.batch_size, delayMs: p.delay_ms, signal }),
    [JOB.pruneWebhooks]: async () => {
      const before = daysAgo(config.webhookRetentionDays);
      return prune(JOB.pruneWebhooks, {
        webhook_deliveries: (n) => pruneFinishedDeliveries(db, before, n),
        events: (n) => pruneUnreferencedEvents(db, before, n),
      });
    },
    [JOB.inboundSilent]: async () => {
      const n = await alertSilentSources(services.database.db, services.config.inboundSilentAfterS);
      if (n) log.warn({ sources: n }, 'inbound sources went silent');
    },
    [JOB.pruneInbound]: async () => {
      const before = daysAgo(config.inboundRetentionDays);
      return prune(JOB.pruneInbound, {
        inbound_events: (n) => pruneInboundEvents(db, before, n),
        inbound_rejections: (n) => pruneInboundRejections(db, before, n),
      });
    },
    [JOB.auditCheckpoint]: async () => {
      const cp = await services.audit.checkpoints.createIfAdvanced();
      return cp && { seq: cp.seq };
    },
    // The last attempt fails the email for good (its body is deleted); earlier ones are retried with backoff.
    [JOB.mailSend]: async (p, job) => services.mail.send(p.message_id, { final: job.attempts >= job.max_attempts }),
    [JOB.pruneCallLog]: async () => {
      const before = daysAgo(config.callLogRetentionDays);
      return prune(JOB.pruneCallLog, { upstream_calls: (n) => services.upstream.pruneLogs(before, n) });
    },
  };
}

/** Periodic work; each slot runs once however many workers share the database. */
export function schedules(config: Config): Schedule[] {
  return [
    // Verification already refuses such keys on its own; this marks them, audits it and tells every cache.
    { kind: JOB.revokeDueKeys, everyMs: 10_000 },
    { kind: JOB.pruneJobs, everyMs: 3600_000 },
    { kind: JOB.monitorCredentials, everyMs: config.monitorIntervalMs },
    { kind: JOB.syncEmailBison, everyMs: config.syncIntervalMs },
    { kind: JOB.pruneCallLog, everyMs: 3600_000 },
    { kind: JOB.pruneWebhooks, everyMs: 3600_000 },
    { kind: JOB.inboundSilent, everyMs: 5 * 60_000 },
    { kind: JOB.pruneInbound, everyMs: 3600_000 },
    // A truncated or rewritten chain is caught back to the newest checkpoint, so one a minute while entries arrive.
    { kind: JOB.auditCheckpoint, everyMs: 60_000 },
  ];
}
