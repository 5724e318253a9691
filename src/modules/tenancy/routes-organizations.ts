import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, OrgRole, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import { MemberParams, Workspace } from './routes.js';
import type { TenancyService } from './service.js';

const OrgMember = Type.Object({ organization_id: Type.String(), user_id: Type.String(), role: OrgRole, email: Type.String(), name: Type.String(), created_at: Timestamp });

const tags = ['tenancy'];

/** An organization's own people and workspaces, run by its owners and admins. */
export const organizationRoutes =
  (tenancy: TenancyService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/organizations/:id/members', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: "Give a person of the organization an organization role (or change it); its workspaces inherit it. Owners and admins, never above their own role; new people come in by invitation",
        body: Type.Object({
          user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
          role: OrgRole,
        }, { additionalProperties: false }),
        response: { 201: OrgMember, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await tenancy.addOrganizationMember(req.actor, req.params.id, req.body)));

    app.get('/organizations/:id/members', {
      schema: { tags, security: bearer, params: IdParam, summary: "The organization's members and their organization roles (any of its members)", querystring: Type.Object(PageQuery), response: { 200: PageOf(OrgMember), ...errors() } },
    }, async (req) => tenancy.listOrganizationMembers(req.actor, req.params.id, pageRequest(req.query)));

    app.patch('/organizations/:id/members/:user_id', {
      schema: {
        tags, security: bearer, params: MemberParams, summary: "Change a member's organization role (the last owner stays owner)",
        body: Type.Object({ role: OrgRole }, { additionalProperties: false }),
        response: { 200: OrgMember, ...errors(409) },
      },
    }, async (req) => tenancy.changeOrganizationMemberRole(req.actor, req.params.id, req.params.user_id, req.body.role));

    app.delete('/organizations/:id/members/:user_id', {
      schema: {
        tags, security: bearer, params: MemberParams,
        summary: 'Take a person out of the organization and every one of its workspaces; their sessions end at once',
        response: { 204: Type.Null(), ...errors(409) },
      },
    }, async (req, reply) => {
      await tenancy.removeOrganizationMember(req.actor, req.params.id, req.params.user_id);
      return reply.status(204).send(null);
    });

    app.post('/workspaces/:id/archive', {
      schema: { tags, security: bearer, params: IdParam, summary: "Archive a workspace (its organization's owners and admins): inactive, kept, no longer counted against the plan", response: { 200: Workspace, ...errors() } },
    }, async (req) => tenancy.archiveWorkspace(req.actor, req.params.id, true));

    app.post('/workspaces/:id/restore', {
      schema: { tags, security: bearer, params: IdParam, summary: "Bring an archived workspace back (within the plan's workspace limit)", response: { 200: Workspace, ...errors(409) } },
    }, async (req) => tenancy.archiveWorkspace(req.actor, req.params.id, false));
  };
