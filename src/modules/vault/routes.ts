import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, ListOf } from '../../http/schemas.js';
import type { TenancyService } from '../tenancy/service.js';
import type { UpstreamService } from '../upstream/service.js';
import type { VaultService } from './service.js';

const tags = ['credentials'];
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), provider: Type.String({ minLength: 1, maxLength: 32 }) });

export const MaskedCredential = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  provider: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  instance: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  fields: Type.Record(Type.String(), Type.String()),
  secrets: Type.Record(Type.String(), Type.Object({ set: Type.Boolean(), mask: Type.String() }), { description: 'masked: first 4 and last 4 characters' }),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const vaultRoutes =
  ({ vault, tenancy, upstream }: { vault: VaultService; tenancy: TenancyService; upstream: UpstreamService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.put('/workspaces/:id/credentials/:provider', {
      config: { scope: 'credentials:write' },
      schema: {
        tags, security: bearer, params: Params,
        summary: "Store the workspace's credential for a provider; a secret field left blank keeps the stored value",
        body: Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 8192 }), { maxProperties: 20 }),
        response: { 200: MaskedCredential, ...errors(422) },
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      const { name, ...fields } = req.body;
      return vault.putCredential(req.actor, req.params.id, req.params.provider, fields, name);
    });

    app.get('/workspaces/:id/credentials', {
      config: { scope: 'credentials:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: ListOf(MaskedCredential), ...errors() } },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return { data: await vault.listCredentials(req.params.id) };
    });

    app.delete('/workspaces/:id/credentials/:provider', {
      config: { scope: 'credentials:write' },
      schema: { tags, security: bearer, params: Params, response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      await vault.deleteCredential(req.actor, req.params.id, req.params.provider);
      return reply.status(204).send(null);
    });

    app.post('/workspaces/:id/credentials/:provider/test', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, params: Params, summary: "Make the provider's cheap test call with the stored credential",
        response: {
          200: Type.Object({ ok: Type.Boolean(), status_code: Type.Union([Type.Integer(), Type.Null()]), latency_ms: Type.Integer(), detail: Type.String() }),
          ...errors(422),
        },
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return upstream.test(req.actor, req.params.id, req.params.provider);
    });
  };
