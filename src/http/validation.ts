import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { ErrorObject } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { invalid } from '../lib/errors.js';
import { jsonLimitProblem } from '../lib/json-limits.js';
import { ErrorBody } from './schemas.js';

/**
 * An Ajv as Gatehouse validates with. Query strings and path params arrive as text, so they are
 * coerced; JSON bodies are not: `"limit": "10"` is a wrong type and gets a 400, as the contract says.
 */
export function createAjv(coerceTypes: boolean | 'array') {
  const ajv = new Ajv.default({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats.default(ajv);
  ajv.addSchema(ErrorBody);
  return ajv;
}

/** Ajv's errors as the contract's `details.issues`, e.g. `{path: 'body/key', message: 'must be string'}`. */
export const validationIssues = (errors: ErrorObject[], context: string) =>
  errors.map((v) => ({
    path: `${context}${v.instancePath}`,
    message: v.message ?? 'invalid',
    ...(v.keyword === 'additionalProperties' ? { property: (v.params as { additionalProperty?: string }).additionalProperty } : {}),
  }));

/**
 * Fastify's own JSON parser (secure-json-parse, prototype poisoning refused), then the depth and
 * number limits: a body past them is a 400 before any validator, handler or serializer walks it.
 */
export function registerJsonBodyParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) =>
    parse(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      const problem = jsonLimitProblem(value);
      if (problem) return done(invalid(problem.message, { reason: problem.reason, path: problem.path }), undefined);
      done(null, value);
    }),
  );
}
