import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, ListOf } from '../../http/schemas.js';
import type { TenancyService } from '../tenancy/service.js';
import type { UpstreamService } from '../upstream/service.js';
import { invalid } from '../../lib/errors.js';
import { importCredentials } from './import.js';
import { MaskedCredential } from './schemas.js';
import type { VaultService } from './service.js';

const tags = ['credentials'];
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), provider: Type.String({ minLength: 1, maxLength: 32 }) });

export const vaultRoutes =
  ({ vault, tenancy, upstream }: { vault: VaultService; tenancy: TenancyService; upstream: Pick<UpstreamService, 'test'> }): FastifyPluginAsyncTypebox =>
  async (app) => {
    // The import also takes the file itself (`content-type: text/csv`), as `curl --data-binary @file.csv` sends it.
    app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, { csv: body }));

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

    app.post('/credentials/import', {
      config: { scope: 'credentials:write' },
      schema: {
        tags, security: bearer,
        summary: 'Bulk import from CSV (columns workspace_id, provider, name, then provider fields): every row validated before any is written. The body is JSON {csv} or the file as text/csv',
        body: Type.Object({ csv: Type.String({ minLength: 1, maxLength: 10 * 1024 * 1024 }), dry_run: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            ok: Type.Boolean(), dry_run: Type.Boolean(), imported: Type.Integer(),
            rows: Type.Array(Type.Object({ row: Type.Integer(), workspace_id: Type.String(), provider: Type.String(), status: Type.String(), errors: Type.Optional(Type.Array(Type.String())) })),
          }),
          ...errors(),
        },
      },
    }, async (req, reply) => {
      const report = await importCredentials({ vault, tenancy }, req.actor, req.body.csv, { dryRun: req.body.dry_run });
      // A rejected file is the caller's to fix: 400, with the per-row report as details.
      if (!report.ok) throw invalid('the file has invalid rows; nothing was imported', { rows: report.rows });
      return reply.send(report);
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
