import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requirePlatformAdmin } from '../../http/actor.js';
import { bearer, errors, Nullable } from '../../http/schemas.js';
import { AppError } from '../../lib/errors.js';
import type { AuditService } from './service.js';

const tags = ['audit'];

const Checkpoint = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'the entry whose hash is attested' }),
  hash: Type.String(),
  at: Type.String({ description: 'when the checkpoint was made' }),
  key_id: Type.String({ description: 'first 16 hex digits of the SHA-256 of the signing public key' }),
  public_key: Type.String({ description: 'raw Ed25519 public key, base64' }),
  signature: Type.String({ description: 'Ed25519 over "gatehouse.audit.checkpoint.v1\\n{seq}\\n{hash}\\n{at}", base64' }),
});

export const checkpointRoutes =
  (audit: AuditService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/audit/checkpoints', {
      config: { scope: 'audit:read' },
      schema: {
        tags, security: bearer, summary: "Sign the chain's newest entry now (platform admin)",
        response: { 201: Checkpoint, ...errors(409) },
      },
    }, async (req, reply) => {
      requirePlatformAdmin(req.actor);
      const checkpoint = await audit.checkpoints.create();
      if (!checkpoint) throw new AppError('conflict', 'the audit log is empty: there is nothing to checkpoint yet');
      return reply.status(201).send(checkpoint);
    });

    app.get('/audit/checkpoints', {
      config: { scope: 'audit:read' },
      schema: {
        tags, security: bearer, summary: 'Signed checkpoints, newest first (platform admin)',
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Type.Object({ data: Type.Array(Checkpoint), next_cursor: Nullable(Type.String()) }), ...errors() },
      },
    }, async (req) => {
      requirePlatformAdmin(req.actor);
      return audit.checkpoints.list(req.query.limit ?? 100, req.query.cursor);
    });
  };
