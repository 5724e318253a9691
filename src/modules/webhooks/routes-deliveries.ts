import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, Nullable, NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { WINDOWS, type AnalyticsService, type Window } from './analytics.js';
import type { DeliveryFilter, RecoveryService } from './recovery.js';

const figures = {
  total: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  success_rate: Nullable(Type.Number({ description: 'percent, two decimals; null without attempts' })),
  avg_latency_ms: Nullable(Type.Integer()),
};
const AnalyticsAnswer = Type.Object({
  window: Type.Union([Type.Literal('1h'), Type.Literal('24h'), Type.Literal('7d'), Type.Literal('30d')]), // the compiler holds this to WINDOWS
  since: Timestamp,
  bucket: Type.String({ description: 'the series step, as a PostgreSQL interval' }),
  ...figures,
  p95_latency_ms: Nullable(Type.Integer()),
  series: Type.Array(Type.Object({ t: Timestamp, ...figures })),
  endpoints: Type.Array(Type.Object({ webhook_id: Type.String(), name: Nullable(Type.String()), url: Nullable(Type.String()), ...figures, p95_latency_ms: Nullable(Type.Integer()) })),
});

const tags = ['webhooks'];
const Status = Type.Union([Type.Literal('pending'), Type.Literal('delivering'), Type.Literal('succeeded'), Type.Literal('dead')]);

const Delivery = Type.Object({
  id: Type.String(),
  workspace_id: Type.String(),
  webhook_id: Type.String(),
  event_id: Type.String({ description: 'also the webhook-id header: the same on every attempt and replay' }),
  event_type: Type.Optional(Type.String()),
  status: Status,
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  next_attempt_at: NullableTimestamp,
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  finished_at: NullableTimestamp,
});
const Attempt = Type.Object({
  id: Type.String(),
  attempt: Type.Integer(),
  worker_id: Type.String({ description: 'host:pid:… of the worker that made it' }),
  url: Type.String(),
  request_headers: Type.Record(Type.String(), Type.String(), { description: 'as sent, with the signature and bearer token redacted' }),
  response_status: Nullable(Type.Integer()),
  response_body: Nullable(Type.String({ description: 'the first 4 KB' })),
  duration_ms: Type.Integer(),
  error: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('retrying'), Type.Literal('failed')]),
  next_attempt_at: NullableTimestamp,
  created_at: Timestamp,
});
const Page = Type.Object({ data: Type.Array(Delivery), next_cursor: Nullable(Type.String()) });
const Filters = {
  event_type: Type.Optional(Type.String({ maxLength: 128 })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
};
const Requeued = Type.Object({ requeued: Type.Integer() });

const filterOf = (q: { event_type?: string; since?: string; until?: string; cursor?: string; status?: string; webhook_id?: string }): DeliveryFilter => ({
  eventType: q.event_type,
  since: q.since ? new Date(q.since) : undefined,
  until: q.until ? new Date(q.until) : undefined,
  cursor: q.cursor,
  status: q.status as DeliveryFilter['status'],
  webhookId: q.webhook_id,
});

export const deliveryRoutes =
  ({ recovery, analytics }: { recovery: RecoveryService; analytics: AnalyticsService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/webhooks/:id/deliveries', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: "An endpoint's deliveries, newest first",
        querystring: Type.Object({ ...Filters, status: Type.Optional(Status) }),
        response: { 200: Page, ...errors() },
      },
    }, async (req) => recovery.listForEndpoint(req.actor, req.params.id, filterOf(req.query), req.query.limit ?? 50));

    app.get('/deliveries/:id', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'A delivery with its payload and every attempt',
        response: { 200: Type.Intersect([Delivery, Type.Object({ payload: Type.Unknown(), attempt_log: Type.Array(Attempt, { description: "every attempt, oldest first" }) })]), ...errors() },
      },
    }, async (req) => recovery.get(req.actor, req.params.id));

    app.post('/deliveries/:id/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Send a finished delivery again now (same webhook-id), with a fresh set of retries',
        response: { 202: Type.Object({ id: Type.String(), requeued: Type.Integer() }), ...errors() },
      },
    }, async (req, reply) => reply.status(202).send(await recovery.replay(req.actor, req.params.id)));

    app.post('/webhooks/:id/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Send again everything this endpoint was sent since a time',
        body: Type.Object({ since: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
        response: { 202: Requeued, ...errors() },
      },
    }, async (req, reply) => reply.status(202).send(await recovery.replaySince(req.actor, req.params.id, new Date(req.body.since))));

    app.post('/webhooks/:id/dead-letters/retry', {
      config: { scope: 'webhooks:write' },
      schema: { tags, security: bearer, params: IdParam, summary: "Send this endpoint's whole dead-letter list again", response: { 202: Requeued, ...errors() } },
    }, async (req, reply) => reply.status(202).send(await recovery.retryDead(req.actor, req.params.id)));

    app.get('/workspaces/:id/dead-letters', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Deliveries that used up their retries or were refused, newest first',
        querystring: Type.Object({ ...Filters, webhook_id: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: Page, ...errors() },
      },
    }, async (req) => recovery.listForWorkspace(req.actor, req.params.id, { ...filterOf(req.query), status: 'dead' }, req.query.limit ?? 50));

    app.get('/workspaces/:id/webhooks/analytics', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Attempts in a window: totals, success rate, average and p95 latency, a time series and per-endpoint rows',
        querystring: Type.Object({
          window: Type.Optional(Type.Union(Object.keys(WINDOWS).map((w) => Type.Literal(w)), { default: '24h' })),
          webhook_id: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: { 200: AnalyticsAnswer, ...errors() },
      },
    }, async (req) => analytics.forWorkspace(req.actor, req.params.id, (req.query.window ?? '24h') as Window, req.query.webhook_id));
  };
