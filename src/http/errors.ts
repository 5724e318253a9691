import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { AppError, type ErrorCode } from '../lib/errors.js';
import { validationIssues } from './validation.js';

// Connection-level failures: the database is down or restarting, which is the caller's cue to retry.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e.message ?? '')
  );
}

// Text PostgreSQL cannot store (a NUL character; \u0000 or a lone surrogate escape inside jsonb): the
// request's fault, so a 400, not a 500. 22P02 is taken only for its Unicode cases: any other invalid
// representation would be Gatehouse's own bug and stays a 500.
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);
const isUnstorableText = (err: unknown) => {
  const e = err as { code?: string; detail?: string };
  return UNSTORABLE_TEXT_CODES.has(e.code ?? '') || (e.code === '22P02' && /unicode|surrogate/i.test(e.detail ?? ''));
};

const byStatus: Record<number, ErrorCode> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

export const MESSAGES = {
  invalidSchema: 'the request does not match the schema',
  unavailable: 'the database is unreachable; retry shortly',
  internal: 'an internal error occurred; the request id identifies it in the logs',
} as const;

/** The contract's error body; Fastify's handlers and the key-verify fast path both build it here. */
export function errorBody(code: string, message: string, requestId: string, details?: unknown) {
  return { error: { code, message, ...(details ? { details } : {}), request_id: requestId } };
}

/** One place turns every failure into `{error: {code, message, details?, request_id}}`; nothing else re-shapes errors. */
export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const requestId = request.id;
    const send = (status: number, code: string, message: string, details?: Record<string, unknown>) =>
      reply.status(status).send(errorBody(code, message, requestId, details));

    if (err instanceof AppError) {
      if (err.headers) reply.headers(err.headers);
      return send(err.status, err.code, err.message, err.details);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return send(400, 'validation_failed', MESSAGES.invalidSchema, { issues: validationIssues(fe.validation as ErrorObject[], fe.validationContext ?? '') });
    }
    if (isUnstorableText(err)) {
      return send(400, 'validation_failed', 'the request holds characters that cannot be stored (such as NUL or a lone UTF-16 surrogate)');
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: (err as Error).message }, 'database unavailable');
      reply.header('retry-after', '5');
      return send(503, 'unavailable', MESSAGES.unavailable);
    }
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, body too large, wrong content type): safe messages.
      return send(status, byStatus[status] ?? 'validation_failed', fe.message);
    }
    request.log.error({ err }, 'unhandled error');
    return send(500, 'internal', MESSAGES.internal);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`, request.id));
  });
}

/**
 * Failures the router meets before any route or hook runs (a broken percent escape, a path segment
 * over the router's length limit): Fastify would answer them in its own shape, so they are rendered
 * here in the contract's. The path is not echoed back: it can be kilobytes long.
 */
export function renderFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  reply.header('x-request-id', request.id);
  if (err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const message = err.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly percent-encoded' : 'a path segment is too long';
    return reply.status(400).send(errorBody('validation_failed', message, request.id));
  }
  request.log.error({ err }, 'router error');
  return reply.status(500).send(errorBody('internal', MESSAGES.internal, request.id));
}
