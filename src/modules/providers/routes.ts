import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, ListOf, PageOf, PageQuery } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import type { VaultService } from '../vault/service.js';
import { catalogView } from './catalog.js';
import type { InstanceService } from './instances.js';

const tags = ['providers'];

const Field = Type.Object({
  name: Type.String(),
  label: Type.String(),
  secret: Type.Boolean(),
  required: Type.Boolean(),
  description: Type.Optional(Type.String()),
  default: Type.Optional(Type.String()),
  options: Type.Optional(Type.Array(Type.String())),
});
const Provider = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  uses_instance: Type.Boolean(),
  fields: Type.Array(Field),
  test: Type.String(),
  inbound_verification: Type.String(),
});
const Instance = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  name: Type.String(),
  base_url: Type.String(),
  admin_credential: Type.Object({ set: Type.Boolean(), mask: Type.Optional(Type.String()) }),
  created_at: Type.String(),
});

export const providerRoutes =
  ({ instances, vault }: { instances: InstanceService; vault: VaultService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/providers', {
      schema: { tags, security: bearer, summary: 'The provider catalog: fields (which are secret) and how each is tested', response: { 200: ListOf(Provider), ...errors() } },
    }, async () => ({ data: catalogView() }));

    app.post('/instances', {
      schema: {
        tags, security: bearer, summary: 'Register a self-hosted provider deployment (platform admin)',
        body: Type.Object({
          provider: Type.String({ maxLength: 32 }),
          name: Type.String({ minLength: 1, maxLength: 200 }),
          base_url: Type.String({ format: 'uri', maxLength: 2000, description: 'for Email Bison, ends in /api' }),
        }, { additionalProperties: false }),
        response: { 201: Instance, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await instances.create(req.actor, req.body)));

    app.get('/instances', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, summary: "Every instance for the platform admin (with the admin credential's mask); for anyone else, the instances their workspaces' credentials use (no mask)",
        querystring: Type.Object(PageQuery),
        response: { 200: PageOf(Instance), ...errors() },
      },
    }, async (req) => instances.list(req.actor, pageRequest(req.query)));

    app.put('/instances/:id/admin-credential', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: "Set the instance's super-admin token: usable for admin tasks only, never for a workspace's calls",
        body: Type.Object({ api_key: Type.String({ minLength: 8, maxLength: 4096 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ instance_id: Type.String(), admin_credential: Type.Object({ set: Type.Boolean(), mask: Type.String() }) }), ...errors() },
      },
    }, async (req) => vault.putInstanceAdminCredential(req.actor, req.params.id, req.body.api_key));
  };
