import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, ListOf, Nullable, NullableTimestamp, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import { FILTER_PATTERN, TYPE_PATTERN } from './catalog.js';
import type { EndpointService } from './endpoints.js';
import type { EventService } from './events.js';
import { withRemoteParent } from '../../lib/tracing.js';

const tags = ['webhooks'];

const Fields = {
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'https:// (http:// only for a workspace in test mode)' }),
  events: Type.Array(Type.String({ maxLength: 128, pattern: FILTER_PATTERN }), {
    minItems: 1, maxItems: 100, description: 'event types: exact (lead.replied), prefix wildcards (lead.*) or * for all',
  }),
  name: Nullable(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$', description: 'unique in the workspace; events can be sent to it by name' })),
  description: Nullable(Type.String({ maxLength: 500 })),
  enabled: Type.Boolean(),
  timeout_s: Type.Integer({ minimum: 1, maximum: 300, default: 30 }),
  max_retries: Type.Integer({ minimum: 0, maximum: 10, default: 8 }),
  max_in_flight: Type.Integer({ minimum: 1, maximum: 100, default: 4, description: 'concurrent deliveries to this endpoint across all workers' }),
  headers: Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1024 }), { maxProperties: 20 }),
  auth_token: Nullable(Type.String({ maxLength: 4096, description: 'sent as Authorization: Bearer; sealed in the vault, shown masked' })),
  secret: Type.String({ maxLength: 128, description: 'bring your own signing secret (whsec_…); generated when absent' }),
};

const Endpoint = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  name: Nullable(Type.String()),
  description: Nullable(Type.String()),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String()),
  timeout_s: Type.Integer(),
  max_retries: Type.Integer(),
  max_in_flight: Type.Integer(),
  headers: Type.Record(Type.String(), Type.String()),
  auth_token: Nullable(Type.String({ description: 'masked' })),
  stats: Type.Object({ total: Type.Number(), succeeded: Type.Number(), failed: Type.Number(), success_rate: Nullable(Type.Number()), last_called_at: NullableTimestamp }),
  failing_since: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
const CreatedEndpoint = Type.Intersect([Endpoint, Type.Object({ secret: Type.String({ description: 'the signing secret: shown this once' }) })]);
const EventType = Type.Object({ name: Type.String(), description: Nullable(Type.String()), built_in: Type.Boolean() });

export const webhookRoutes =
  ({ endpoints, events }: { endpoints: EndpointService; events: EventService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/workspaces/:id/webhooks', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Register an endpoint; the signing secret is in this answer only',
        body: Type.Object({ url: Fields.url, events: Fields.events, name: Type.Optional(Fields.name), description: Type.Optional(Fields.description),
          enabled: Type.Optional(Fields.enabled), timeout_s: Type.Optional(Fields.timeout_s), max_retries: Type.Optional(Fields.max_retries),
          max_in_flight: Type.Optional(Fields.max_in_flight), headers: Type.Optional(Fields.headers), auth_token: Type.Optional(Fields.auth_token), secret: Type.Optional(Fields.secret) },
        { additionalProperties: false }),
        response: { 201: CreatedEndpoint, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await endpoints.create(req.actor, req.params.id, { ...req.body, auth_token: req.body.auth_token ?? undefined })));

    app.get('/workspaces/:id/webhooks', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: "The workspace's endpoints, oldest first, a page at a time",
        querystring: Type.Object(PageQuery), response: { 200: PageOf(Endpoint), ...errors() },
      },
    }, async (req) => endpoints.list(req.actor, req.params.id, pageRequest(req.query)));

    app.get('/webhooks/:id', {
      config: { scope: 'webhooks:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: Endpoint, ...errors() } },
    }, async (req) => endpoints.get(req.actor, req.params.id));

    app.patch('/webhooks/:id', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Change an endpoint; enabling it again clears its failure clock; auth_token null removes it',
        body: Type.Partial(Type.Object({ url: Fields.url, events: Fields.events, name: Fields.name, description: Fields.description, enabled: Fields.enabled,
          timeout_s: Fields.timeout_s, max_retries: Fields.max_retries, max_in_flight: Fields.max_in_flight, headers: Fields.headers, auth_token: Fields.auth_token }),
        { additionalProperties: false, minProperties: 1 }),
        response: { 200: Endpoint, ...errors(409) },
      },
    }, async (req) => endpoints.update(req.actor, req.params.id, req.body));

    app.delete('/webhooks/:id', {
      config: { scope: 'webhooks:write' },
      schema: { tags, security: bearer, params: IdParam, summary: 'Delete an endpoint with its deliveries and attempts', response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await endpoints.remove(req.actor, req.params.id);
      return reply.status(204).send(null);
    });

    app.post('/webhooks/:id/rotate-secret', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'New signing secret; the old one keeps signing alongside it for overlap_s (default 24 h)',
        body: Type.Optional(Type.Object({ overlap_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })), secret: Type.Optional(Fields.secret) }, { additionalProperties: false })),
        response: { 200: Type.Object({ id: Type.String(), secret: Type.String(), previous_secret_expires_at: NullableTimestamp }), ...errors() },
      },
    }, async (req) => endpoints.rotate(req.actor, req.params.id, req.body ?? {}));

    app.post('/webhooks/:id/test', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Send a sample gatehouse.webhook.test message to this endpoint',
        body: Type.Optional(Type.Object({ payload: Type.Optional(Type.Unknown()) }, { additionalProperties: false })),
        response: { 202: Type.Object({ event_id: Type.String(), delivery_id: Type.String() }), ...errors() },
      },
    }, async (req, reply) => reply.status(202).send(await events.test(req.actor, req.params.id, req.body ?? {})));

    app.post('/workspaces/:id/events', {
      config: { scope: 'events:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Accept an event: stored with one delivery per matching endpoint in one transaction; 202 after the commit',
        body: Type.Object({
          type: Type.String({ maxLength: 128, pattern: TYPE_PATTERN }),
          payload: Type.Unknown({ description: 'any JSON; sent as data' }),
          idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'a repeat returns the first event and creates nothing' })),
          endpoint: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'send to this endpoint only (id or name), whatever its filter' })),
          broadcast: Type.Optional(Type.Boolean({ description: 'send to every enabled endpoint, whatever its filter' })),
        }, { additionalProperties: false, required: ['type', 'payload'] }),
        response: { 202: Type.Object({ event_id: Type.String(), duplicate: Type.Boolean(), deliveries: Type.Integer() }), ...errors() },
      },
    }, async (req, reply) => reply.status(202).send(await withRemoteParent(req.headers, () => events.send(req.actor, req.params.id, req.body))));

    app.get('/event-types', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, summary: "The built-in event types, and a workspace's own (workspace_id, or the key's workspace)",
        querystring: Type.Object({ workspace_id: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: ListOf(EventType), ...errors() },
      },
    }, async (req) => ({ data: await events.listTypes(req.actor, req.query.workspace_id) }));

    app.post('/workspaces/:id/event-types', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Register a custom event type for this workspace',
        body: Type.Object({ name: Type.String({ maxLength: 128, pattern: TYPE_PATTERN }), description: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
        response: { 201: EventType, ...errors() },
      },
    }, async (req, reply) => reply.status(201).send(await events.registerType(req.actor, req.params.id, req.body)));
  };
