import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../modules/audit/service.js';
import type { KeyVerifier, VerifyCode } from '../modules/apikeys/verify.js';
import { AppError } from '../lib/errors.js';
import type { Actor } from './actor.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
  interface FastifyContextConfig {
    /** No Authorization needed (the route authenticates by other means, e.g. the key in the body). */
    public?: boolean;
    /** Scope the caller's key must hold. */
    scope?: string;
  }
}

const FAILURE: Record<Exclude<VerifyCode, 'valid'>, { code: 'unauthenticated' | 'forbidden' | 'rate_limited'; message: string }> = {
  not_found: { code: 'unauthenticated', message: 'the API key is not valid' },
  revoked: { code: 'unauthenticated', message: 'the API key has been revoked' },
  expired: { code: 'unauthenticated', message: 'the API key has expired' },
  ip_not_allowed: { code: 'forbidden', message: 'the API key may not be used from this address' },
  insufficient_scope: { code: 'forbidden', message: 'the API key lacks the scope this route needs' },
  usage_exceeded: { code: 'forbidden', message: 'the API key has no uses remaining' },
  rate_limited: { code: 'rate_limited', message: 'the API key exceeded its rate limit' },
};

export const anonymousActor = (request: FastifyRequest): Actor => ({
  type: 'key',
  id: 'anonymous',
  workspaceId: null,
  platformAdmin: false,
  scopes: [],
  ip: request.ip,
  userAgent: request.headers['user-agent'] ?? null,
  requestId: request.id,
});

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}

/**
 * Every /v1 route: the same verification as POST /v1/keys/verify, then the route's scope.
 * Failures are audited (without the key) before the 401/403/429 goes out.
 */
export function registerAuth(app: FastifyInstance, { verifier, audit }: { verifier: KeyVerifier; audit: AuditService }) {
  app.decorateRequest('actor', null as unknown as Actor);
  // Public routes skip the hook synchronously: the key-verification route is one of them, and
  // an async hook would cost it a promise per request for nothing.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.public) return done();
    authenticate(request, reply).then(() => done(), done);
  });

  async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const config = request.routeOptions.config;
    const token = bearerToken(request);
    const verification = token ? await verifier.verify(token, { scope: config.scope, ip: request.ip }) : null;
    const code = verification?.code ?? 'not_found';
    if (verification?.ratelimit) {
      const { limit, remaining, reset } = verification.ratelimit;
      reply.headers({
        'ratelimit-limit': String(limit),
        'ratelimit-remaining': String(remaining),
        'ratelimit-reset': String(Math.max(0, Math.ceil((reset - Date.now()) / 1000))),
      });
    }
    if (code === 'valid') {
      const key = verification!.key!;
      request.actor = {
        type: 'key',
        id: key.id,
        workspaceId: key.workspaceId,
        platformAdmin: key.platformAdmin,
        scopes: key.scopes,
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        requestId: request.id,
      };
      return;
    }
    const failure = FAILURE[code];
    await audit.record(anonymousActor(request), {
      workspaceId: verification?.key?.workspaceId ?? null,
      action: 'auth.failed',
      category: 'auth',
      severity: 'warning',
      outcome: 'failure',
      resource: verification?.key ? { type: 'api_key', id: verification.key.id } : undefined,
      after: {
        reason: token === null ? 'missing_authorization' : token === '' ? 'malformed_authorization' : code,
        route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
        ...(config.scope ? { required_scope: config.scope } : {}),
      },
    });
    const headers: Record<string, string> = {};
    if (code === 'rate_limited') {
      headers['retry-after'] = String(Math.max(1, Math.ceil((verification!.ratelimit!.reset - Date.now()) / 1000)));
    }
    if (failure.code === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
    const reason = token === null ? 'missing_authorization' : token === '' ? 'malformed_authorization' : code;
    const message = token === null || token === '' ? 'an Authorization: Bearer <key> header is required' : failure.message;
    throw new AppError(failure.code, message, code === 'insufficient_scope' ? { reason, required_scope: config.scope } : { reason }, headers);
  }
}
