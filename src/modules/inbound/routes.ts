import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, Nullable, NullableTimestamp, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { invalid } from '../../lib/errors.js';
import { pageRequest } from '../../lib/paging.js';
import { attachment, exportStream } from '../../lib/export.js';
import { FILTER_PATTERN } from '../webhooks/catalog.js';
import { CSV_COLUMNS, csvRow, inboundEventView, type InboundEventRow, type InboundEventService } from './events.js';
import { INBOUND_PROVIDERS } from './kinds.js';
import type { SourceService } from './sources.js';

const tags = ['inbound'];

const Fields = {
  name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$' }),
  secret: Type.String({ minLength: 1, maxLength: 4096, description: "the provider's secret (Twilio auth token, Meta app secret, Vonage signature secret, Vapi secret); generated for standard and hmac when absent; a shared token for emailbison and http" }),
  verify_token: Type.String({ minLength: 1, maxLength: 256, description: "WhatsApp: the token Meta's handshake must present; generated when absent" }),
  provider_workspace_id: Nullable(Type.String({ minLength: 1, maxLength: 64, description: "emailbison: the Email Bison workspace id every event's event.workspace_id must match" })),
  events: Nullable(Type.Array(Type.String({ maxLength: 128, pattern: FILTER_PATTERN }), { minItems: 1, maxItems: 100, description: 'Gatehouse types to pass on (exact, prefix.*, *); others are ignored; null: all' })),
  hmac: Type.Object({
    header: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' })),
    prefix: Type.Optional(Type.String({ maxLength: 32 })),
    encoding: Type.Optional(Type.Union([Type.Literal('hex'), Type.Literal('base64')])),
    algorithm: Type.Optional(Type.Union([Type.Literal('sha256'), Type.Literal('sha1'), Type.Literal('sha512')])),
  }, { additionalProperties: false }),
  tolerance_s: Nullable(Type.Integer({ minimum: 10, maximum: 86_400, description: 'how old a signed timestamp may be (default 300)' })),
  silent_after_s: Nullable(Type.Integer({ minimum: 60, maximum: 90 * 86_400, description: 'alert (gatehouse.inbound.silent) after this long without an event' })),
  enabled: Type.Boolean(),
};

const Source = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  provider: Type.String(),
  name: Type.String(),
  url: Type.String({ description: 'the receiving URL to give the provider' }),
  scheme: Type.String(),
  signed: Type.Boolean({ description: 'false: the provider signs nothing; the URL (and a token) is all that authenticates it' }),
  enabled: Type.Boolean(),
  events: Nullable(Type.Array(Type.String())),
  tolerance_s: Nullable(Type.Integer()),
  hmac: Nullable(Type.Record(Type.String(), Type.String())),
  provider_workspace_id: Nullable(Type.String()),
  silent_after_s: Nullable(Type.Integer()),
  secret: Nullable(Type.String({ description: 'masked' })),
  verify_token: Nullable(Type.String({ description: 'masked' })),
  previous_secret_expires_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});

const InboundEvent = Type.Object({
  id: Type.String(), workspace_id: Type.String(), source_id: Type.String(), provider: Type.String(),
  status: Type.String(), signature: Type.String(), provider_type: Nullable(Type.String()),
  event_types: Type.Array(Type.String()), published_event_ids: Type.Array(Type.String()),
  content_type: Nullable(Type.String()), headers: Type.Record(Type.String(), Type.String()),
  source_ip: Nullable(Type.String()), user_agent: Nullable(Type.String()),
  attempts: Type.Integer(), replays: Type.Integer(), last_error: Nullable(Type.String()),
  next_attempt_at: NullableTimestamp, received_at: Timestamp, processed_at: NullableTimestamp,
});

const date = (v: string | undefined, field: string) => {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw invalid(`${field} is not a date-time`, { field });
  return d;
};

export const inboundRoutes =
  ({ sources, inboundEvents }: { sources: SourceService; inboundEvents: InboundEventService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/workspaces/:id/inbound-sources', {
      config: { scope: 'inbound:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Create an inbound source; its receiving URL, and any secret Gatehouse picked (shown this once)',
        body: Type.Object({
          provider: Type.Union(INBOUND_PROVIDERS.map((p) => Type.Literal(p))), name: Fields.name, secret: Type.Optional(Fields.secret),
          verify_token: Type.Optional(Fields.verify_token), provider_workspace_id: Type.Optional(Fields.provider_workspace_id), events: Type.Optional(Fields.events),
          hmac: Type.Optional(Fields.hmac), tolerance_s: Type.Optional(Fields.tolerance_s), silent_after_s: Type.Optional(Fields.silent_after_s), enabled: Type.Optional(Fields.enabled),
        }, { additionalProperties: false }),
        response: { 201: Type.Intersect([Type.Omit(Source, ['secret', 'verify_token']), Type.Object({ secret: Nullable(Type.String()), verify_token: Nullable(Type.String()) })]), ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await sources.create(req.actor, req.params.id, req.body)));

    app.get('/workspaces/:id/inbound-sources', {
      config: { scope: 'inbound:read' },
      schema: {
        tags, security: bearer, params: IdParam, querystring: Type.Object(PageQuery),
        response: { 200: PageOf(Type.Intersect([Source, Type.Object({ last_received_at: NullableTimestamp, verification_failures_24h: Type.Integer({ description: 'requests refused by verification in the last 24 hours' }) })])), ...errors() },
      },
    }, async (req) => sources.list(req.actor, req.params.id, pageRequest(req.query)));

    app.get('/inbound-sources/:id', {
      config: { scope: 'inbound:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: Source, ...errors() } },
    }, async (req) => sources.get(req.actor, req.params.id));

    app.patch('/inbound-sources/:id', {
      config: { scope: 'inbound:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        body: Type.Partial(Type.Object({ name: Fields.name, enabled: Fields.enabled, events: Fields.events, verify_token: Fields.verify_token, provider_workspace_id: Fields.provider_workspace_id,
          hmac: Fields.hmac, tolerance_s: Fields.tolerance_s, silent_after_s: Fields.silent_after_s }), { additionalProperties: false, minProperties: 1 }),
        response: { 200: Source, ...errors(409) },
      },
    }, async (req) => sources.update(req.actor, req.params.id, req.body));

    app.delete('/inbound-sources/:id', {
      config: { scope: 'inbound:write' },
      schema: { tags, security: bearer, params: IdParam, summary: 'Delete a source with its events; its URL answers 404 from then on', response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await sources.remove(req.actor, req.params.id);
      return reply.status(204).send(null);
    });

    app.post('/inbound-sources/:id/rotate-secret', {
      config: { scope: 'inbound:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'A new secret; the old one is still accepted for overlap_s (default 24 h)',
        body: Type.Optional(Type.Object({ secret: Type.Optional(Fields.secret), overlap_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })) }, { additionalProperties: false })),
        response: { 200: Type.Object({ id: Type.String(), secret: Nullable(Type.String({ description: 'in clear when Gatehouse picked it (this once), masked when you brought it' })), previous_secret_expires_at: NullableTimestamp }), ...errors() },
      },
    }, async (req) => sources.rotate(req.actor, req.params.id, req.body ?? {}));

    app.get('/inbound-sources/:id/health', {
      config: { scope: 'inbound:read' },
      schema: { tags, security: bearer, params: IdParam, summary: 'Last received, counts per day (30 days), verification failures by reason, silence' },
    }, async (req) => sources.health(req.actor, req.params.id));

    app.get('/workspaces/:id/inbound-events', {
      config: { scope: 'inbound:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Events received, newest first; format=csv|json streams every match',
        querystring: Type.Object({
          source_id: Type.Optional(Type.String({ maxLength: 64 })),
          type: Type.Optional(Type.String({ maxLength: 128, description: "a Gatehouse type it was published as, or the provider's own" })),
          status: Type.Optional(Type.Union(['pending', 'processing', 'processed', 'ignored', 'failed'].map((s) => Type.Literal(s)))),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          cursor: Type.Optional(Type.String({ maxLength: 64 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
        }),
        response: { 200: Type.Object({ data: Type.Array(InboundEvent), next_cursor: Nullable(Type.String()) }), ...errors() },
      },
    }, async (req, reply) => {
      await inboundEvents.requireWorkspace(req.actor, req.params.id);
      const { format, limit = 100, cursor, ...q } = req.query;
      const filter = { ...q, from: date(q.from, 'from'), to: date(q.to, 'to') };
      if (format) {
        reply.headers(attachment('gatehouse-inbound-events', format));
        const stream = exportStream<InboundEventRow>(
          { page: (c, size) => inboundEvents.list(req.params.id, { ...filter, cursor: c }, size), cursorOf: (r) => r.id, columns: [...CSV_COLUMNS], csvRow, jsonRow: inboundEventView },
          format,
        );
        return reply.send(stream as never);
      }
      const rows = await inboundEvents.list(req.params.id, { ...filter, cursor }, limit);
      return { data: rows.map(inboundEventView), next_cursor: rows.length === limit ? rows[rows.length - 1].id : null };
    });

    app.get('/inbound-events/:id', {
      config: { scope: 'inbound:read' },
      schema: { tags, security: bearer, params: IdParam, summary: 'One event with its raw body as received', response: { 200: Type.Intersect([InboundEvent, Type.Object({ body: Type.String() })]), ...errors() } },
    }, async (req) => inboundEvents.get(req.actor, req.params.id));

    app.post('/inbound-events/:id/replay', {
      config: { scope: 'inbound:write' },
      schema: { tags, security: bearer, params: IdParam, summary: 'Process it again from the stored body (a processed event is published again)', response: { 202: Type.Object({ id: Type.String(), status: Type.String() }), ...errors(409) } },
    }, async (req, reply) => reply.status(202).send(await inboundEvents.replay(req.actor, req.params.id)));
  };
