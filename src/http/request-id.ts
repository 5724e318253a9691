import type { IncomingMessage } from 'node:http';
import { monotonicFactory } from 'ulid';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
// Correlation ids, not secrets (a client may send its own): Math.random is enough and far cheaper
// than ulid's per-character crypto calls (docs/decisions.md).
const nextRequestUlid = monotonicFactory(Math.random);

/** The caller's X-Request-Id when it is a sane token, else a new `req_…`. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${nextRequestUlid().toLowerCase()}`;
}

/** Headers every API answer carries, from Fastify's hook and from the verify fast path alike. */
export const API_HEADERS = { 'x-content-type-options': 'nosniff' } as const;
