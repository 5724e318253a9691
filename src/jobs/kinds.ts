/** The job kinds, by what each does. */
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
  auditCheckpoint: 'audit.checkpoint',
} as const;
