import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { requirePlatformAdmin } from '../http/actor.js';
import { bearer, errors, IdParam } from '../http/schemas.js';
import { notFound } from '../lib/errors.js';
import { enqueue } from './queue.js';
import { JOB } from './handlers.js';

const tags = ['jobs'];

/** Long work runs as a job; these routes start it and report on it (platform admin). */
export const jobRoutes =
  ({ db }: { db: Kysely<DB> }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/instances/:id/generate-tokens', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: "Mint many workspaces' Email Bison tokens with the instance-admin credential, in batches with a delay",
        body: Type.Object({
          workspaces: Type.Array(Type.Object({ workspace_id: Type.String({ maxLength: 64 }), provider_workspace_id: Type.String({ pattern: '^[0-9]{1,18}$' }) }, { additionalProperties: false }), { minItems: 1, maxItems: 5000 }),
          batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 5 })),
          delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 })),
        }, { additionalProperties: false }),
        response: { 202: Type.Object({ job_id: Type.String(), count: Type.Integer() }), ...errors() },
      },
    }, async (req, reply) => {
      requirePlatformAdmin(req.actor);
      const jobId = await enqueue(db, {
        kind: JOB.generateTokens,
        payload: { requested_by: req.actor.id, instance: req.params.id, items: req.body.workspaces, batch_size: req.body.batch_size ?? 5, delay_ms: req.body.delay_ms ?? 1000 },
        maxAttempts: 1,
      });
      return reply.status(202).send({ job_id: jobId!, count: req.body.workspaces.length });
    });

    app.get('/jobs/:id', {
      schema: {
        tags, security: bearer, params: Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) }),
        response: {
          200: Type.Object({
            id: Type.String(), kind: Type.String(), status: Type.String(), attempts: Type.Integer(), last_error: Type.Union([Type.String(), Type.Null()]),
            result: Type.Unknown(), created_at: Type.String(), finished_at: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(),
        },
      },
    }, async (req) => {
      requirePlatformAdmin(req.actor);
      const job = await db.selectFrom('jobs').select(['id', 'kind', 'status', 'attempts', 'last_error', 'result', 'created_at', 'finished_at']).where('id', '=', req.params.id).executeTakeFirst();
      if (!job) throw notFound('job');
      return { ...job, result: job.result ?? null, created_at: job.created_at.toISOString(), finished_at: job.finished_at?.toISOString() ?? null };
    });
  };
