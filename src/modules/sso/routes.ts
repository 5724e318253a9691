import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { anonymousActor } from '../../http/auth.js';
import { bearer, errors, IdParam, ListOf, Nullable, NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { AppError } from '../../lib/errors.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import type { SsoService } from './service.js';

const tags = ['sso'];
// Binds a login attempt to the browser that started it. Lax, unlike the session cookie: it must come
// back with the provider's top-level redirect to the callback, which is a cross-site navigation.
const ATTEMPT_COOKIE = 'gatehouse_sso';
const ATTEMPT_PATH = '/v1/auth/sso';

const OrgRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member'), Type.Literal('read_only')]);
const PresetName = Type.Union([Type.Literal('google'), Type.Literal('microsoft'), Type.Literal('okta')]);
const Domain = Type.Object({
  domain: Type.String(),
  verified: Type.Boolean(),
  verified_at: NullableTimestamp,
  verified_by: Nullable(Type.String({ description: 'dns, platform_admin, or before_proof (claimed before proofs were asked)' })),
  txt_record: Nullable(Type.Object({ name: Type.String(), value: Type.String() }, { description: 'publish this TXT record, then POST …/verify' })),
});
const Config = Type.Object({
  organization_id: Type.String(),
  preset: Nullable(PresetName),
  issuer: Type.String(),
  client_id: Type.String(),
  client_secret_mask: Type.String({ description: 'the secret is never returned, only this mask' }),
  allowed_domains: Type.Array(Type.String(), { description: 'every domain claimed, proven or not' }),
  domains: Type.Array(Domain, { description: 'the claims with their proof: only a proven domain sends sign-ins to this provider' }),
  enforce: Type.Boolean({ description: 'members sign in through the provider only: POST /v1/auth/login answers 403 sso_required (the platform admin excepted)' }),
  default_role: OrgRole,
  created_at: Timestamp,
  updated_at: Timestamp,
});
const Preset = Type.Object({
  name: PresetName,
  label: Type.String(),
  issuer_pattern: Type.String(),
  claims: Type.Object({ email: Type.String(), email_verified: Nullable(Type.String()), name: Type.String() }),
  notes: Type.String(),
});
const Started = Type.Object({ url: Type.String({ description: "the provider's authorization URL" }), expires_at: Timestamp });
const TestReport = Type.Object({
  ok: Type.Literal(true),
  organization_id: Type.String(),
  claims: Type.Record(Type.String(), Type.Unknown(), { description: 'iss, sub, aud, email, email_verified, name as received' }),
  domain_verified: Type.Boolean({ description: "whether the email's domain is proven: until it is, a real sign-in with it is refused" }),
});
const Redirect = Type.Null({ description: 'a redirect (Location)' });

/** A person's browser asking for a page, rather than a program asking for JSON. */
const isNavigation = (req: FastifyRequest) => (req.headers.accept ?? '').includes('text/html');

export const ssoRoutes =
  ({ sso, secureCookies, sessionMaxS }: { sso: SsoService; secureCookies: boolean; sessionMaxS: number }): FastifyPluginAsyncTypebox =>
  async (app) => {
    /** A browser goes back to the sign-in page with the reason in `sso_error`; anything else gets the JSON error. */
    const refuse = (req: FastifyRequest, reply: FastifyReply, error: unknown) => {
      // Only a refusal is told to a browser by redirect: anything else is a fault, answered as one.
      if (!(error instanceof AppError) || !isNavigation(req)) throw error;
      const reason = typeof error.details?.reason === 'string' ? error.details.reason : error.code;
      return reply.redirect(`/?sso_error=${encodeURIComponent(reason)}`, 302);
    };

    app.get('/auth/sso/presets', {
      config: { public: true },
      schema: { tags, summary: 'Identity providers with a known issuer shape (Google, Microsoft Entra ID, Okta) and the claims read', response: { 200: ListOf(Preset), ...errors() } },
    }, async () => ({ data: sso.presets() }));

    app.get('/organizations/:id/sso', {
      schema: { tags, security: bearer, params: IdParam, summary: "The organization's single sign-on configuration (owners and admins)", response: { 200: Config, ...errors() } },
    }, async (req) => sso.getConfig(req.actor, req.params.id));

    app.put('/organizations/:id/sso', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Sign in through an OpenID Connect provider (owners and admins): the issuer (https; http:// only with GATEHOUSE_ALLOW_PRIVATE_TARGETS) is discovered before saving; client_secret is sealed and may be left out to keep the stored one',
        body: Type.Object({
          preset: Type.Optional(Nullable(PresetName)),
          issuer: Type.String({ minLength: 8, maxLength: 500 }),
          client_id: Type.String({ minLength: 1, maxLength: 500 }),
          client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
          allowed_domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 50 }),
          enforce: Type.Optional(Type.Boolean()),
          default_role: Type.Optional(OrgRole),
        }, { additionalProperties: false }),
        response: { 200: Config, ...errors(409) },
      },
    }, async (req) => sso.configure(req.actor, req.params.id, req.body));

    app.post('/organizations/:id/sso/domains/:domain/verify', {
      schema: {
        tags, security: bearer, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), domain: Type.String({ minLength: 1, maxLength: 253 }) }),
        summary: "Prove a claimed domain (owners and admins): its DNS must hold the challenge as a TXT record (409 domain_not_proven names the record); the platform admin's word proves it without DNS",
        response: { 200: Domain, ...errors(409, 502) },
      },
    }, async (req) => sso.verifyDomain(req.actor, req.params.id, req.params.domain));

    app.post('/organizations/:id/sso/test', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'A trial sign-in (owners and admins): open the URL; the callback answers with the claims received, or the refusal, and opens no session',
        response: { 201: Started, ...errors() },
      },
    }, async (req, reply) => reply.status(201).send(await sso.startTest(req.actor, req.params.id)));

    app.get('/auth/sso/start', {
      config: { public: true },
      schema: {
        tags, summary: "Single sign-on by email: 302 to the provider of the organization that claims the email's domain. Refusals: JSON, or for a browser a 302 to /?sso_error=<reason>",
        querystring: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }) }),
        response: { 302: Redirect, ...errors() },
      },
    }, async (req, reply) => {
      let started: Awaited<ReturnType<SsoService['start']>>;
      try {
        started = await sso.start(anonymousActor(req), req.query.email);
      } catch (err) {
        return refuse(req, reply, err);
      }
      reply.setCookie(ATTEMPT_COOKIE, started.browserToken, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: ATTEMPT_PATH, maxAge: 600 });
      return reply.redirect(started.url, 302);
    });

    app.get('/auth/sso/callback', {
      config: { public: true },
      schema: {
        tags, summary: "Where the provider sends the browser back: a sign-in opens a session (the password sign-in's cookie) and goes to /; a trial answers 200 with the claims",
        querystring: Type.Object({
          code: Type.Optional(Type.String({ maxLength: 4096 })),
          state: Type.Optional(Type.String({ maxLength: 512 })),
          iss: Type.Optional(Type.String({ maxLength: 500 })),
          error: Type.Optional(Type.String({ maxLength: 500 })),
          error_description: Type.Optional(Type.String({ maxLength: 2000 })),
        }, { additionalProperties: Type.String({ maxLength: 4096 }) }),
        response: { 200: TestReport, 302: Redirect, ...errors() },
      },
    }, async (req, reply) => {
      const outcome = await sso.callback(anonymousActor(req), req.query as Record<string, string>, req.cookies?.[ATTEMPT_COOKIE]);
      if (outcome.kind === 'test') return outcome.report;
      reply.clearCookie(ATTEMPT_COOKIE, { path: ATTEMPT_PATH });
      if (outcome.kind === 'refused') {
        if (outcome.purpose === 'test') throw outcome.error;
        return refuse(req, reply, outcome.error);
      }
      reply.setCookie(SESSION_COOKIE, outcome.token, { httpOnly: true, sameSite: 'strict', secure: secureCookies, path: '/', maxAge: sessionMaxS });
      return reply.redirect('/', 302);
    });
  };
