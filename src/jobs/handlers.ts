import { pruneFinishedDeliveries } from '../modules/webhooks/queue.js';
import { alertSilentSources, pruneInbound } from '../modules/inbound/health.js';
import type { Config } from '../config.js';
import { systemActor } from '../http/actor.js';
import type { Services } from '../services.js';
import { pruneFinishedJobs } from './queue.js';
import type { JobHandler, Schedule } from './worker.js';

export const JOB = {
  usageFlush: 'usage.flush',
  revokeDueKeys: 'keys.revoke-due',
  pruneJobs: 'jobs.prune',
  pruneWebhooks: 'webhooks.prune',
  monitorCredentials: 'credentials.monitor',
  syncEmailBison: 'emailbison.sync-all',
  pruneCallLog: 'upstream.prune-logs',
  generateTokens: 'emailbison.generate-tokens',
  inboundSilent: 'inbound.alert-silent',
  pruneInbound: 'inbound.prune',
} as const;

const jobActor = (name: string) => ({ ...systemActor(), id: `job:${name}` });

/** What each job kind does; a handler throws to have its job retried with backoff. */
export function jobHandlers(services: Services): Record<string, JobHandler> {
  const { log } = services;
  return {
    [JOB.usageFlush]: async (payload) => services.apiKeys.applyUsageBatch(payload.entries),
    [JOB.revokeDueKeys]: async () => {
      const n = await services.apiKeys.revokeDueKeys();
      if (n) log.info({ keys: n }, 'revoked keys whose rotation grace or expiry passed');
    },
    [JOB.pruneJobs]: async () => {
      await pruneFinishedJobs(services.database.db, new Date(Date.now() - 86400_000));
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
    [JOB.generateTokens]: async (p) =>
      services.emailbison.generateTokens({ ...systemActor(), id: p.requested_by }, p.items, { instance: p.instance, batchSize: p.batch_size, delayMs: p.delay_ms }),
    [JOB.pruneWebhooks]: async () => {
      const removed = await pruneFinishedDeliveries(services.database.db, new Date(Date.now() - services.config.webhookRetentionDays * 86400_000));
      if (removed) log.info({ deliveries: removed }, 'pruned finished webhook deliveries past retention');
    },
    [JOB.inboundSilent]: async () => {
      const n = await alertSilentSources(services.database.db, services.config.inboundSilentAfterS);
      if (n) log.warn({ sources: n }, 'inbound sources went silent');
    },
    [JOB.pruneInbound]: async () => {
      const removed = await pruneInbound(services.database.db, new Date(Date.now() - services.config.inboundRetentionDays * 86400_000));
      if (removed) log.info({ removed }, 'pruned inbound events and rejections past retention');
    },
    [JOB.pruneCallLog]: async () => {
      const cutoff = new Date(Date.now() - services.config.callLogRetentionDays * 86400_000);
      let removed = 0;
      for (let n = -1; n !== 0; removed += n) n = await services.upstream.pruneLogs(cutoff);
      if (removed) log.info({ removed }, 'pruned upstream call log');
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
  ];
}
