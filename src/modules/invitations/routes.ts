import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { anonymousActor } from '../../http/auth.js';
import { bearer, errors, IdParam, NullableTimestamp, OrgRole, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import type { InvitationService } from './service.js';

const tags = ['invitations'];
const Token = Type.String({ minLength: 10, maxLength: 200, pattern: '^ghi_[A-Za-z0-9_-]+$' });

const Invitation = Type.Object({
  id: Type.String(),
  organization_id: Type.String(),
  email: Type.String(),
  role: OrgRole,
  workspace_ids: Type.Array(Type.String(), { description: 'when set, the person joins only these workspaces (with the role as a workspace role)' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]),
  mail_status: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed'), Type.Null()], { description: 'the email in the outbox; null when no SMTP is configured' }),
  invited_by: Type.String(),
  expires_at: Timestamp,
  accepted_at: NullableTimestamp,
  created_at: Timestamp,
});
const Sent = Type.Intersect([Invitation, Type.Object({ url: Type.Optional(Type.String({ description: 'the link, only when no SMTP server is configured: pass it on yourself' })) })]);

export const invitationRoutes =
  ({ invitations, secureCookies, sessionMaxS }: { invitations: InvitationService; secureCookies: boolean; sessionMaxS: number }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/organizations/:id/invitations', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: "Invite a person by email (owners and admins, never above their own role): a single-use link, emailed through the outbox, or returned as `url` when no SMTP is configured",
        body: Type.Object({
          email: Type.String({ format: 'email', maxLength: 320 }),
          role: OrgRole,
          workspace_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 })),
        }, { additionalProperties: false }),
        response: { 201: Sent, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await invitations.invite(req.actor, req.params.id, req.body)));

    app.get('/organizations/:id/invitations', {
      schema: { tags, security: bearer, params: IdParam, summary: "The organization's invitations, newest first, with their email's state", querystring: Type.Object(PageQuery), response: { 200: PageOf(Invitation), ...errors() } },
    }, async (req) => invitations.list(req.actor, req.params.id, pageRequest(req.query)));

    app.post('/invitations/:id/resend', {
      schema: { tags, security: bearer, params: IdParam, summary: 'A new link and expiry for a pending or expired invitation (the old link stops working)', response: { 200: Sent, ...errors(409) } },
    }, async (req) => invitations.resend(req.actor, req.params.id));

    app.delete('/invitations/:id', {
      schema: { tags, security: bearer, params: IdParam, summary: 'Revoke an invitation: its link stops working', response: { 204: Type.Null(), ...errors(409) } },
    }, async (req, reply) => {
      await invitations.revoke(req.actor, req.params.id);
      return reply.status(204).send(null);
    });

    app.get('/invitations/lookup', {
      config: { public: true },
      schema: {
        tags, summary: 'What an invitation link offers (for the acceptance page); 404 unknown, 409 used, revoked or expired',
        querystring: Type.Object({ token: Token }),
        response: {
          200: Type.Object({
            organization: Type.Object({ id: Type.String(), name: Type.String() }),
            email: Type.String(), role: OrgRole, workspace_ids: Type.Array(Type.String()), expires_at: Timestamp,
            existing_account: Type.Boolean({ description: 'the email already has an account: accepting adds the organization to it' }),
            sso: Type.Object({
              available: Type.Boolean({ description: "the email signs in through the organization's OpenID provider: a new account may be made without a password" }),
              enforced: Type.Boolean({ description: 'and must: a password would not be used' }),
            }),
          }),
          ...errors(409),
        },
      },
    }, async (req) => invitations.lookup(anonymousActor(req), req.query.token));

    app.post('/invitations/accept', {
      config: { public: true },
      schema: {
        tags, summary: "Accept an invitation once: a new account (name, password) is made and signed in; where the organization's single sign-on takes the email, the password may be left out and the person signs in through the provider; an existing account gives its own password (401 `password_required` without it), joins, and signs in as usual",
        body: Type.Object({
          token: Token,
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024 })),
        }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            user: Type.Object({ id: Type.String(), email: Type.String(), name: Type.String() }),
            organization_id: Type.String(),
            signed_in: Type.Boolean(),
            csrf_token: Type.Optional(Type.String()),
          }),
          ...errors(409),
        },
      },
    }, async (req, reply) => {
      const { token, body } = await invitations.accept(anonymousActor(req), req.body);
      if (token) reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: secureCookies, path: '/', maxAge: sessionMaxS });
      return body;
    });
  };
