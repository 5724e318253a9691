import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam } from '../../http/schemas.js';
import { canSeeWorkspace } from '../../http/actor.js';
import { AppError, invalid, notFound } from '../../lib/errors.js';
import { attachment, exportStream } from '../../lib/export.js';
import type { TenancyService } from '../tenancy/service.js';
import { MaskedCredential } from '../vault/schemas.js';
import type { EmailBisonService } from './emailbison.js';
import type { CallRow, UpstreamService } from './service.js';

const tags = ['upstream'];

const callView = (r: CallRow) => ({
  id: Number(r.id),
  provider: r.provider,
  method: r.method,
  endpoint: r.endpoint,
  status_code: r.status_code,
  ok: r.ok,
  duration_ms: r.duration_ms,
  attempts: r.attempts,
  key_suffix: r.key_suffix,
  caller: r.caller,
  trigger: r.trigger,
  instance_id: r.instance_id,
  error: r.error,
  created_at: r.created_at.toISOString(),
});
const CallEntry = Type.Object({
  id: Type.Integer(), provider: Type.String(), method: Type.String(), endpoint: Type.String(),
  status_code: Type.Union([Type.Integer(), Type.Null()]), ok: Type.Boolean(), duration_ms: Type.Integer(), attempts: Type.Integer(),
  key_suffix: Type.Union([Type.String(), Type.Null()]), caller: Type.Union([Type.String(), Type.Null()]), trigger: Type.String(),
  instance_id: Type.Union([Type.String(), Type.Null()], { description: 'the provider instance the credential belongs to (Email Bison)' }),
  error: Type.Union([Type.String(), Type.Null()], { description: "why it failed: no answer, or the provider's own message (1 KB, secrets scrubbed)" }), created_at: Type.String(),
});
const CSV_COLUMNS = ['id', 'created_at', 'provider', 'method', 'endpoint', 'status_code', 'ok', 'duration_ms', 'attempts', 'key_suffix', 'caller', 'trigger', 'instance_id', 'error'] as const;

const date = (v: string | undefined, field: string) => {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw invalid(`${field} is not a date-time`, { field });
  return d;
};

export const upstreamRoutes =
  ({ upstream, tenancy, emailbison }: { upstream: UpstreamService; tenancy: TenancyService; emailbison: EmailBisonService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/workspaces/:id/upstream/:provider', {
      config: { scope: 'upstream:call' },
      schema: {
        tags, security: bearer,
        params: Type.Object({ id: Type.String({ maxLength: 64 }), provider: Type.String({ maxLength: 32 }) }),
        summary: "Call the provider with this workspace's own credential (never another's); logged and counted in health",
        body: Type.Object({
          method: Type.Union(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'].map((m) => Type.Literal(m))),
          path: Type.String({ minLength: 1, maxLength: 2000 }),
          query: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.Union([Type.String(), Type.Number()]))]))),
          body: Type.Optional(Type.Unknown()),
        }, { additionalProperties: false }),
        response: {
          200: Type.Object({ status: Type.Integer(), headers: Type.Record(Type.String(), Type.String()), body: Type.Unknown(), duration_ms: Type.Integer(), attempts: Type.Integer() }),
          ...errors(422, 502),
        },
      },
    }, async (req) => {
      // The workspace's credential (cached) proves the workspace exists, so its row is read only
      // when there is no credential: an unknown workspace then answers 404, a known one 422.
      if (!canSeeWorkspace(req.actor, req.params.id)) throw notFound('workspace');
      try {
        return await upstream.call(req.actor, req.params.id, req.params.provider, req.body);
      } catch (err) {
        if (err instanceof AppError && err.code === 'credential_missing') await tenancy.requireWorkspace(req.actor, req.params.id);
        throw err;
      }
    });

    app.get('/workspaces/:id/api-logs', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'The upstream call log, newest first; format=csv|json streams every match',
        querystring: Type.Object({
          status: Type.Optional(Type.String({ pattern: '^(ok|error|[1-5][0-9]{2})$', description: 'ok, error, or an HTTP status' })),
          provider: Type.Optional(Type.String({ maxLength: 32 })),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          error: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "calls whose error contains this text (case-insensitive)" })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
        }),
        response: { 200: Type.Object({ data: Type.Array(CallEntry), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors() },
      },
    }, async (req, reply) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      await upstream.settled();
      const q = req.query;
      const filter = {
        status: q.status === undefined ? undefined : /^\d+$/.test(q.status) ? Number(q.status) : (q.status as 'ok' | 'error'),
        provider: q.provider,
        from: date(q.from, 'from'),
        to: date(q.to, 'to'),
        error: q.error,
      };
      if (q.format) {
        reply.headers(attachment('gatehouse-api-logs', q.format));
        const stream = exportStream<CallRow>(
          {
            page: (cursor, size) => upstream.listLogs(req.params.id, { ...filter, cursor }, size),
            cursorOf: (r) => r.id,
            columns: [...CSV_COLUMNS],
            csvRow: (r) => CSV_COLUMNS.map((c) => (c === 'created_at' ? r.created_at.toISOString() : r[c])),
            jsonRow: callView,
          },
          q.format,
        );
        return reply.send(stream as never);
      }
      const limit = q.limit ?? 100;
      const rows = await upstream.listLogs(req.params.id, { ...filter, cursor: q.cursor }, limit);
      return { data: rows.map(callView), next_cursor: rows.length === limit ? rows[rows.length - 1].id : null };
    });

    app.post('/workspaces/:id/credentials/emailbison/generate', {
      config: { scope: 'credentials:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: "Mint the workspace's Email Bison token with the instance-admin credential and store it (platform admin)",
        body: Type.Optional(Type.Object({
          instance: Type.Optional(Type.String({ maxLength: 200 })),
          provider_workspace_id: Type.Optional(Type.String({ maxLength: 32 })),
          name: Type.Optional(Type.String({ maxLength: 200 })),
        }, { additionalProperties: false })),
        response: { 200: MaskedCredential, ...errors(409, 422, 502) },
      },
      preValidation: async (req) => {
        req.body = req.body ?? {};
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return emailbison.generateToken(req.actor, req.params.id, req.body ?? {});
    });

    app.post('/workspaces/:id/sync/emailbison/sender-emails', {
      config: { scope: 'upstream:call' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Fetch every page of sender emails with the workspace token; counts checked against the provider total',
        response: {
          200: Type.Object({
            run_id: Type.String(), fetched: Type.Integer(), unique: Type.Integer(), provider_total: Type.Union([Type.Integer(), Type.Null()]),
            duplicates: Type.Integer(), pages: Type.Integer(), status: Type.String(),
          }),
          ...errors(422, 502),
        },
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return emailbison.syncSenderEmails(req.actor, req.params.id);
    });
  };
