import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam } from '../http/schemas.js';
import type { JobService } from './service.js';

const tags = ['jobs'];

/** Long work runs as a job; these routes start it and report on it (platform admin). */
export const jobRoutes =
  ({ jobs }: { jobs: JobService }): FastifyPluginAsyncTypebox =>
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
    }, async (req, reply) => reply.status(202).send(await jobs.startGenerateTokens(req.actor, req.params.id, req.body)));

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
    }, async (req) => jobs.get(req.actor, req.params.id));
  };
