import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../modules/audit/service.js';
import type { KeyVerifier, VerifyCode } from '../modules/apikeys/verify.js';
import { AppError } from '../lib/errors.js';
import { scopeGranted, type Actor } from './actor.js';
import { limitedSource } from './client-ip.js';
import { personActor, SESSION_COOKIE, type OpenSession, type SessionStore } from '../modules/auth/sessions.js';
import { safeEqual } from '../lib/safe-equal.js';
import type { RateLimiter } from '../modules/apikeys/ratelimit.js';
import type { FailureSummary } from '../modules/auth/failures.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
    /** The signed-in person's session, when the request came with the session cookie. */
    session?: { token: string; open: OpenSession };
  }
  interface FastifyContextConfig {
    /** No Authorization needed (the route authenticates by other means, e.g. the key in the body). */
    public?: boolean;
    /** Scope the caller's key (or a signed-in person's role) must hold. */
    scope?: string;
    /** For a signed-in person only (the session routes), not for API keys. */
    session?: boolean;
  }
}

// Methods that change nothing: every other one, from a session, must carry the CSRF token.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

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

/** The session of a route marked `session: true`: the auth hook refuses such a request without one. */
export function sessionOf(request: FastifyRequest): { token: string; open: OpenSession } {
  if (!request.session) throw new AppError('unauthenticated', 'sign in first (POST /v1/auth/login)', { reason: 'no_session' });
  return request.session;
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}

interface AuthDeps {
  verifier: KeyVerifier;
  audit: AuditService;
  sessions: SessionStore;
  authFailures: FailureSummary;
  limiter: RateLimiter;
  config: { authFailureLimit: number };
}

/**
 * Every /v1 route: the same verification as POST /v1/keys/verify, then the route's scope.
 * Failures go to a metric and to the per-source summary (never the key); an address past its
 * failure limit gets 429 instead of 401. A valid key touches neither.
 */
export function registerAuth(app: FastifyInstance, { verifier, audit, sessions, authFailures, limiter, config: { authFailureLimit } }: AuthDeps) {
  app.decorateRequest('actor', null as unknown as Actor);
  // Public routes skip the hook synchronously: the key-verification route is one of them, and
  // an async hook would cost it a promise per request for nothing.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.public) return done();
    authenticate(request, reply).then(() => done(), done);
  });

  /**
   * A signed-in person (the portal): the session cookie, the CSRF token on anything that changes
   * state, then the route's scope against their roles. Returns false when there is no open session.
   */
  async function fromSession(request: FastifyRequest, cookie: string): Promise<boolean> {
    const config = request.routeOptions.config;
    const open = await sessions.read(cookie);
    if (!open) return false;
    const csrf = request.headers['x-csrf-token'];
    const refuse = async (reason: string, message: string) => {
      await audit.record(anonymousActor(request), { workspaceId: null, action: 'auth.failed', category: 'auth', severity: 'warning', outcome: 'failure',
        resource: { type: 'user', id: open.userId }, after: { reason, route: `${request.method} ${request.routeOptions.url ?? ''}` } });
      throw new AppError('forbidden', message, { reason });
    };
    if (!SAFE_METHODS.has(request.method) && (typeof csrf !== 'string' || !safeEqual(csrf, open.csrfToken))) {
      await refuse('csrf', 'this request changes something: it must carry the x-csrf-token header of the session');
    }
    if (open.mfaPending && !config.session) await refuse('mfa_required', 'your organization requires two-factor sign-in: set it up first (POST /v1/auth/mfa/enroll)');
    request.session = { token: cookie, open };
    request.actor = personActor(open, request, config.scope);
    if (config.scope && !scopeGranted(request.actor.scopes, config.scope)) {
      throw new AppError('forbidden', `none of your roles allows this (${config.scope})`, { reason: 'insufficient_scope', required_scope: config.scope });
    }
    return true;
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const config = request.routeOptions.config;
    const token = bearerToken(request);
    const cookie = token === null ? request.cookies?.[SESSION_COOKIE] : undefined;
    if (cookie && (await fromSession(request, cookie))) return;
    if (config.session) {
      throw new AppError('unauthenticated', cookie ? 'the session has ended: sign in again' : 'sign in first (POST /v1/auth/login)', { reason: cookie ? 'session_expired' : 'no_session' });
    }
    const verification = token ? await verifier.verify(token, { scope: config.scope, ip: request.ip }) : null;
    if (verification && 'ratelimit' in verification && verification.ratelimit) {
      const { limit, remaining, reset } = verification.ratelimit;
      reply.headers({
        'ratelimit-limit': String(limit),
        'ratelimit-remaining': String(remaining),
        'ratelimit-reset': String(Math.max(0, Math.ceil((reset - Date.now()) / 1000))),
      });
    }
    if (verification?.code === 'valid') {
      const key = verification.key;
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
    const code = verification?.code ?? 'not_found';
    const failure = FAILURE[code];
    // A cookie whose session has ended says so on every route, so the portal knows to sign in again.
    const reason = token === null ? (cookie ? 'session_expired' : 'missing_authorization') : token === '' ? 'malformed_authorization' : code;
    // Only refusals nobody is entitled to count against the address: a known key's own limits say the rest.
    const limited = failure.code === 'unauthenticated' ? await limiter.consume(`authfail:${limitedSource(request.ip)}`, authFailureLimit, 60) : null;
    authFailures.note(anonymousActor(request), {
      reason,
      route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      workspaceId: verification && 'key' in verification ? verification.key.workspaceId : null,
      keyId: verification && 'key' in verification ? verification.key.id : undefined,
      limited: limited?.allowed === false,
    });
    if (limited && !limited.allowed) {
      const retryAfter = String(Math.max(1, Math.ceil((limited.reset - Date.now()) / 1000)));
      throw new AppError('rate_limited', 'too many failed authentications from this address: wait and try again', { reason: 'too_many_failures' }, { 'retry-after': retryAfter });
    }
    const headers: Record<string, string> = {};
    if (verification?.code === 'rate_limited') {
      headers['retry-after'] = String(Math.max(1, Math.ceil((verification.ratelimit.reset - Date.now()) / 1000)));
    }
    if (failure.code === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
    const message = reason === 'session_expired' ? 'the session has ended: sign in again'
      : token === null || token === '' ? 'an Authorization: Bearer <key> header is required' : failure.message;
    throw new AppError(failure.code, message, code === 'insufficient_scope' ? { reason, required_scope: config.scope } : { reason }, headers);
  }
}
