import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/connect.js';
import { AppError } from '../../lib/errors.js';
import type { Metrics } from '../../lib/metrics.js';

const tags = ['service'];

/** Liveness, readiness, metrics (unless served apart) and the OpenAPI document: open, and never audited. */
export function systemRoutes(app: FastifyInstance, deps: { database: Database; metrics: Metrics }, opts: { metrics: boolean } = { metrics: true }) {
  opsRoutes(app, deps, opts);
  app.get('/openapi.json', { schema: { tags, hide: true } }, async () => app.swagger());
}

/** What an orchestrator and Prometheus need from any process, the API's or a worker's. */
export function opsRoutes(app: FastifyInstance, { database, metrics }: { database: Database; metrics: Metrics }, opts: { metrics: boolean } = { metrics: true }) {
  app.get('/healthz', { schema: { tags, summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      tags, summary: 'The database answers',
      response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }), 503: Type.Ref('ErrorBody') },
    },
  }, async () => {
    try {
      await database.ping();
    } catch {
      // Thrown, not sent, so the one error handler adds the request id like on every other error.
      throw new AppError('unavailable', 'the database is unreachable', undefined, { 'retry-after': '5' });
    }
    return { status: 'ready', database: database.kind };
  });

  if (opts.metrics) metricsRoute(app, metrics);
}

/** Prometheus's scrape: on the API's port, or alone on GATEHOUSE_METRICS_ADDR. */
export function metricsRoute(app: FastifyInstance, metrics: Metrics) {
  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
