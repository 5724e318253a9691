import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, Nullable, NullableTimestamp, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import type { MailService } from './service.js';

const tags = ['mail'];

// No body, by construction: the response schema has no field that could carry it.
const OutboxEntry = Type.Object({
  id: Type.String(),
  organization_id: Nullable(Type.String()),
  to: Type.String(),
  subject: Type.String(),
  purpose: Type.String({ description: 'what the email is for, e.g. password_reset' }),
  status: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String({ description: "the SMTP server's last refusal" })),
  created_at: Timestamp,
  sent_at: NullableTimestamp,
});

export const mailRoutes =
  ({ mail }: { mail: MailService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/mail/outbox', {
      schema: {
        tags, security: bearer, summary: 'Email Gatehouse sent or will send, newest first, without bodies (platform admin)',
        querystring: Type.Object({ organization_id: Type.Optional(Type.String({ maxLength: 64 })), ...PageQuery }),
        response: { 200: PageOf(OutboxEntry), ...errors() },
      },
    }, async (req) => mail.list(req.actor, req.query, pageRequest(req.query)));
  };
