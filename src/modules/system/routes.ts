import type { FastifyInstance } from 'fastify';
import type { Database } from '../../db/connect.js';
import type { Metrics } from '../../lib/metrics.js';

const tags = ['service'];

/** Liveness, readiness, metrics and the OpenAPI document: open, and never audited. */
export function systemRoutes(app: FastifyInstance, { database, metrics }: { database: Database; metrics: Metrics }) {
  app.get('/healthz', { schema: { tags, summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags, summary: 'The database answers' } }, async (_req, reply) => {
    try {
      await database.ping();
      return { status: 'ready', database: database.kind };
    } catch {
      reply.header('retry-after', '5');
      return reply.status(503).send({ error: { code: 'unavailable', message: 'the database is unreachable' } });
    }
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/openapi.json', { schema: { tags, hide: true } }, async () => app.swagger());
}
