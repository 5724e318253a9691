import type { ApiKeyService } from '../modules/apikeys/service.js';

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
  mailSend: 'mail.send',
} as const;

/** A kind that carries nothing: its payload is stored as `{}`. */
type NoPayload = Record<string, never>;

export interface GenerateTokensPayload {
  requested_by: string;
  instance: string;
  items: Array<{ workspace_id: string; provider_workspace_id: string }>;
  batch_size: number;
  delay_ms: number;
}

/** What a job of each kind carries: `enqueue` is checked against it and the kind's handler is given it. */
export interface JobPayloads {
  [JOB.usageFlush]: { entries: Parameters<ApiKeyService['applyUsageBatch']>[0] };
  [JOB.revokeDueKeys]: NoPayload;
  [JOB.pruneJobs]: NoPayload;
  [JOB.pruneWebhooks]: NoPayload;
  [JOB.monitorCredentials]: NoPayload;
  [JOB.syncEmailBison]: NoPayload;
  [JOB.pruneCallLog]: NoPayload;
  [JOB.generateTokens]: GenerateTokensPayload;
  [JOB.inboundSilent]: NoPayload;
  [JOB.pruneInbound]: NoPayload;
  [JOB.auditCheckpoint]: NoPayload;
  /** The outbox row; the email itself stays in the outbox, sealed. */
  [JOB.mailSend]: { message_id: string };
}

export type JobKind = keyof JobPayloads;

/** The payload of a kind: Gatehouse's own kinds are checked; any other kind (a test's) carries what it likes. */
export type PayloadOf<K extends string> = K extends JobKind ? JobPayloads[K] : unknown;
