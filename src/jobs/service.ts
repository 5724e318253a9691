import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { requirePlatformAdmin, type Actor } from '../http/actor.js';
import { notFound } from '../lib/errors.js';
import { JOB } from './kinds.js';
import { enqueue } from './queue.js';
import * as store from './store.js';

export interface GenerateTokensInput {
  workspaces: Array<{ workspace_id: string; provider_workspace_id: string }>;
  batch_size?: number;
  delay_ms?: number;
}

/** Long work started from the API and reported on (platform admin only). */
export function createJobService({ db }: { db: Kysely<DB> }) {
  return {
    async startGenerateTokens(actor: Actor, instance: string, input: GenerateTokensInput) {
      requirePlatformAdmin(actor);
      const jobId = await enqueue(db, {
        kind: JOB.generateTokens,
        payload: { requested_by: actor.id, instance, items: input.workspaces, batch_size: input.batch_size ?? 5, delay_ms: input.delay_ms ?? 1000 },
        maxAttempts: 1,
      });
      // Without a unique key the insert always creates its row.
      return { job_id: jobId ?? '', count: input.workspaces.length };
    },

    async get(actor: Actor, id: string) {
      requirePlatformAdmin(actor);
      const job = await store.getJob(db, id);
      if (!job) throw notFound('job');
      return { ...job, result: job.result ?? null, created_at: job.created_at.toISOString(), finished_at: job.finished_at?.toISOString() ?? null };
    },
  };
}
export type JobService = ReturnType<typeof createJobService>;
