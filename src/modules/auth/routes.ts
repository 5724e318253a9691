import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { anonymousActor, sessionOf } from '../../http/auth.js';
import { errors, IdParam, ListOf, Nullable, Timestamp } from '../../http/schemas.js';
import type { AuthService } from './service.js';
import { userView } from './service.js';
import { SESSION_COOKIE } from './sessions.js';

const tags = ['auth'];
const session = [{ session: [] as string[] }];

const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  platform_admin: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  mfa_required: Type.Boolean({ description: 'an organization requires MFA and it is not set up yet: only /v1/auth works until it is' }),
  memberships: Type.Array(Type.Object({ workspace_id: Type.String(), role: Type.String() }), { description: 'each workspace they reach and their role there (inherited from an organization role unless the workspace grants more)' }),
  organizations: Type.Array(Type.Object({ organization_id: Type.String(), role: Type.String() }), { description: 'their organization roles' }),
});
const SessionView = Type.Object({
  id: Type.String({ description: 'the session\'s public id (never its token)' }),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  created_at: Timestamp,
  last_seen_at: Timestamp,
  expires_at: Timestamp,
  current: Type.Boolean({ description: 'the session this request came with' }),
});
const SignedIn = Type.Object({
  user: User,
  csrf_token: Type.String({ description: 'send as x-csrf-token with every request that changes something' }),
  recovery_codes_remaining: Type.Optional(Type.Integer({ description: 'after a sign-in with a recovery code: how many unused codes are left' })),
});
const RecoveryCodes = Type.Array(Type.String(), { description: 'one-time codes, each usable once instead of a TOTP code; shown only now' });
const NewPassword = Type.String({ minLength: 12, maxLength: 1024 });

export const authRoutes =
  ({ auth, secureCookies, sessionMaxS }: { auth: AuthService; secureCookies: boolean; sessionMaxS: number }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/auth/login', {
      config: { public: true },
      schema: {
        tags, summary: 'Sign in a person: a session cookie (HttpOnly, SameSite=Strict) and the CSRF token',
        body: Type.Object({
          email: Type.String({ minLength: 3, maxLength: 320 }),
          password: Type.String({ minLength: 1, maxLength: 1024 }),
          totp: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
          recovery_code: Type.Optional(Type.String({ minLength: 8, maxLength: 32, description: 'instead of totp, when the authenticator is lost; each code works once' })),
        }, { additionalProperties: false }),
        response: { 200: SignedIn, ...errors(429) },
      },
    }, async (req, reply) => {
      const { token, body } = await auth.login(anonymousActor(req), req.body);
      reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: secureCookies, path: '/', maxAge: sessionMaxS });
      return body;
    });

    app.post('/auth/logout', {
      config: { session: true },
      schema: { tags, security: session, summary: 'End this session', response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await auth.logout(req.actor, sessionOf(req).token);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    });

    app.get('/auth/me', {
      config: { session: true },
      schema: { tags, security: session, summary: 'The signed-in person, their workspaces and roles, and the CSRF token', response: { 200: SignedIn, ...errors() } },
    }, async (req) => ({ user: userView(sessionOf(req).open), csrf_token: sessionOf(req).open.csrfToken }));

    app.post('/auth/mfa/enroll', {
      config: { session: true },
      schema: {
        tags, security: session,
        summary: 'A new TOTP secret as an otpauth:// URL (for a QR code); confirm it with a code. Replacing a confirmed authenticator needs the password and a current code (403 reauthentication_required without them)',
        body: Type.Optional(Type.Object({
          password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
        }, { additionalProperties: false })),
        response: { 200: Type.Object({ otpauth_url: Type.String() }), ...errors() },
      },
      // A first enrolment sends no body; Ajv would otherwise refuse `undefined` as "must be object".
      preValidation: async (req) => {
        req.body = req.body ?? {};
      },
    }, async (req) => auth.enrollMfa(req.actor, sessionOf(req).open, req.body ?? {}));

    app.get('/auth/sessions', {
      config: { session: true },
      schema: { tags, security: session, summary: "The signed-in person's open sessions (this one marked current)", response: { 200: ListOf(SessionView), ...errors() } },
    }, async (req) => ({ data: await auth.listSessions(sessionOf(req)) }));

    app.delete('/auth/sessions/:id', {
      config: { session: true },
      schema: { tags, security: session, params: IdParam, summary: 'End one of your sessions (another person\'s is 404)', response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await auth.endSession(req.actor, sessionOf(req), req.params.id);
      return reply.status(204).send(null);
    });

    app.post('/auth/mfa/confirm', {
      config: { session: true },
      schema: {
        tags, security: session, summary: 'Turn MFA on with a code from the enrolled secret; sign-in asks for a code from then on',
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ mfa_enabled: Type.Boolean(), recovery_codes: RecoveryCodes }), ...errors() },
      },
    }, async (req) => auth.confirmMfa(req.actor, sessionOf(req).open, req.body.code));

    app.post('/auth/mfa/recovery-codes', {
      config: { session: true },
      schema: {
        tags, security: session, summary: 'New recovery codes (the earlier ones stop working); needs the password and a current code',
        body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }), code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ recovery_codes: RecoveryCodes }), ...errors(429) },
      },
    }, async (req) => auth.regenerateRecoveryCodes(req.actor, sessionOf(req).open, req.body));

    app.post('/auth/password', {
      config: { session: true },
      schema: {
        tags, security: session, summary: "Change your password with the current one; your other sessions end (a wrong current password counts like a failed sign-in)",
        body: Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), new: NewPassword }, { additionalProperties: false }),
        response: { 200: Type.Object({ sessions_ended: Type.Integer({ description: 'your other sessions, ended' }) }), ...errors(429) },
      },
    }, async (req) => auth.changePassword(req.actor, sessionOf(req), req.body));

    app.post('/auth/password-reset', {
      config: { public: true },
      schema: {
        tags, summary: 'Email a single-use reset link (valid 1 hour) if the address has an account; the answer is the same either way',
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }) }, { additionalProperties: false }),
        response: { 202: Type.Object({ message: Type.String() }), ...errors(429) },
      },
    }, async (req, reply) => {
      await auth.requestPasswordReset(anonymousActor(req), req.body.email);
      return reply.status(202).send({ message: 'if this address has an account, a link to reset its password has been emailed to it' });
    });

    app.post('/auth/password-reset/confirm', {
      config: { public: true },
      schema: {
        tags, summary: "Set a new password with a reset link's token; every session of the person ends and any lock clears (400 token_used / token_expired / token_unknown)",
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }), password: NewPassword }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors() },
      },
    }, async (req, reply) => {
      await auth.confirmPasswordReset(anonymousActor(req), req.body);
      return reply.status(204).send(null);
    });
  };
