import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Metrics } from '../../lib/metrics.js';
import type { SystemService } from './service.js';

const tags = ['service'];

/** Liveness, readiness, metrics (unless served apart) and the OpenAPI document: open, and never audited. */
export function systemRoutes(app: FastifyInstance, deps: { system: SystemService; metrics: Metrics }, opts: { metrics: boolean } = { metrics: true }) {
  opsRoutes(app, deps, opts);
  app.get('/openapi.json', { schema: { tags, hide: true } }, async () => app.swagger());
}

/** What an orchestrator and Prometheus need from any process, the API's or a worker's. */
export function opsRoutes(app: FastifyInstance, { system, metrics }: { system: SystemService; metrics: Metrics }, opts: { metrics: boolean } = { metrics: true }) {
  app.get('/healthz', { schema: { tags, summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      tags, summary: 'The database answers',
      response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }), 503: Type.Ref('ErrorBody') },
    },
  }, async () => system.readiness());

  if (opts.metrics) metricsRoute(app, metrics);
}

/** Prometheus's scrape: on the API's port, or alone on GATEHOUSE_METRICS_ADDR. */
export function metricsRoute(app: FastifyInstance, metrics: Metrics) {
  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
