import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, type ErrorCode } from '../lib/errors.js';

// Connection-level failures: the database is down or restarting, which is the caller's cue to retry.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e.message ?? '')
  );
}

const byStatus: Record<number, ErrorCode> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** One place turns every failure into `{error: {code, message, details?, request_id}}`; nothing else re-shapes errors. */
export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const requestId = request.id;
    const send = (status: number, code: string, message: string, details?: Record<string, unknown>) =>
      reply.status(status).send({ error: { code, message, ...(details ? { details } : {}), request_id: requestId } });

    if (err instanceof AppError) {
      if (err.headers) reply.headers(err.headers);
      return send(err.status, err.code, err.message, err.details);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const issues = fe.validation.map((v) => ({
        path: `${fe.validationContext ?? ''}${v.instancePath}`,
        message: v.message ?? 'invalid',
        ...(v.keyword === 'additionalProperties' ? { property: (v.params as { additionalProperty?: string }).additionalProperty } : {}),
      }));
      return send(400, 'validation_failed', 'the request does not match the schema', { issues });
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: (err as Error).message }, 'database unavailable');
      reply.header('retry-after', '5');
      return send(503, 'unavailable', 'the database is unreachable; retry shortly');
    }
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, body too large, wrong content type): safe messages.
      return send(status, byStatus[status] ?? 'validation_failed', fe.message);
    }
    request.log.error({ err }, 'unhandled error');
    return send(500, 'internal', 'an internal error occurred; the request id identifies it in the logs');
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, request_id: request.id } });
  });
}
