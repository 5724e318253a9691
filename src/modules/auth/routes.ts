import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { anonymousActor } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
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
  memberships: Type.Array(Type.Object({ workspace_id: Type.String(), role: Type.String() })),
});
const SignedIn = Type.Object({ user: User, csrf_token: Type.String({ description: 'send as x-csrf-token with every request that changes something' }) });

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
      await auth.logout(req.actor, req.session!.token);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    });

    app.get('/auth/me', {
      config: { session: true },
      schema: { tags, security: session, summary: 'The signed-in person, their workspaces and roles, and the CSRF token', response: { 200: SignedIn, ...errors() } },
    }, async (req) => ({ user: userView(req.session!.open), csrf_token: req.session!.open.csrfToken }));

    app.post('/auth/mfa/enroll', {
      config: { session: true },
      schema: { tags, security: session, summary: 'A new TOTP secret as an otpauth:// URL (for a QR code); confirm it with a code', response: { 200: Type.Object({ otpauth_url: Type.String() }), ...errors() } },
    }, async (req) => auth.enrollMfa(req.actor, req.session!.open));

    app.post('/auth/mfa/confirm', {
      config: { session: true },
      schema: {
        tags, security: session, summary: 'Turn MFA on with a code from the enrolled secret; sign-in asks for a code from then on',
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ mfa_enabled: Type.Boolean() }), ...errors() },
      },
    }, async (req) => auth.confirmMfa(req.actor, req.session!.open, req.body.code));
  };
