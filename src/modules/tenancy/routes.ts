import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import type { TenancyService } from './service.js';

export const Plan = Type.Union([Type.Literal('free'), Type.Literal('starter'), Type.Literal('professional'), Type.Literal('enterprise')]);
const Role = Type.Union([Type.Literal('admin'), Type.Literal('manager'), Type.Literal('member'), Type.Literal('read_only')]);
const Name = Type.String({ minLength: 1, maxLength: 200 });

const Organization = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Plan,
  seat_limit: Type.Union([Type.Integer(), Type.Null()]),
  workspace_limit: Type.Union([Type.Integer(), Type.Null()], { description: 'live workspaces its own people may create (null: no limit); archived ones do not count' }),
  mfa_required: Type.Boolean({ description: 'members must use two-factor sign-in in the portal' }),
  seats_used: Type.Optional(Type.Integer({ description: 'distinct people across its workspaces (in lists)' })),
  created_at: Timestamp,
});
export const Workspace = Type.Object({
  id: Type.String(),
  organization_id: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  test_mode: Type.Boolean({ description: 'webhook endpoints may use plain http:// (public addresses only); set by the platform admin alone' }),
  archived_at: Type.Union([Timestamp, Type.Null()], { description: 'set when its organization archived it (it is then inactive)' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const User = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String(), platform_admin: Type.Boolean(), mfa_enabled: Type.Boolean(), created_at: Timestamp });
export const MemberParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), user_id: Type.String({ minLength: 1, maxLength: 64 }) });
const Member = Type.Object({ workspace_id: Type.String(), user_id: Type.String(), role: Role, email: Type.String(), name: Type.String(), created_at: Timestamp });

const tags = ['tenancy'];

export const tenancyRoutes =
  (tenancy: TenancyService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/organizations', {
      schema: {
        tags, security: bearer, summary: 'Create an organization (platform admin)',
        body: Type.Object({ name: Name, plan: Type.Optional(Plan), seat_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])) }, { additionalProperties: false }),
        response: { 201: Organization, ...errors() },
      },
    }, async (req, reply) => reply.status(201).send(await tenancy.createOrganization(req.actor, req.body)));

    app.get('/organizations', {
      config: { scope: 'organizations:read' },
      schema: { tags, security: bearer, summary: 'Organizations this caller can see', querystring: Type.Object(PageQuery), response: { 200: PageOf(Organization), ...errors() } },
    }, async (req) => tenancy.listOrganizations(req.actor, pageRequest(req.query)));

    app.get('/organizations/:id', {
      config: { scope: 'organizations:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: Organization, ...errors() } },
    }, async (req) => tenancy.getOrganization(req.actor, req.params.id));

    app.patch('/organizations/:id', {
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Change an organization: its name and whether its members must use two-factor sign-in (its owners and admins); plan, seats and workspace limit (platform admin)',
        body: Type.Object({ name: Type.Optional(Name), plan: Type.Optional(Plan), seat_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
          workspace_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
          mfa_required: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: Organization, ...errors() },
      },
    }, async (req) => tenancy.updateOrganization(req.actor, req.params.id, req.body));

    app.post('/organizations/:id/workspaces', {
      schema: {
        tags, security: bearer, summary: "Create a workspace in an organization (its owners and admins, within the plan's workspace limit; the platform admin)", params: IdParam,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 201: Workspace, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await tenancy.createWorkspace(req.actor, req.params.id, req.body)));

    app.get('/workspaces', {
      config: { scope: 'workspaces:read' },
      schema: {
        tags, security: bearer, summary: 'Workspaces this caller can see',
        querystring: Type.Object({ organization_id: Type.Optional(Type.String({ maxLength: 64 })), ...PageQuery }),
        response: { 200: PageOf(Workspace), ...errors() },
      },
    }, async (req) => tenancy.listWorkspaces(req.actor, req.query, pageRequest(req.query)));

    app.get('/workspaces/:id', {
      config: { scope: 'workspaces:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: Workspace, ...errors() } },
    }, async (req) => tenancy.getWorkspace(req.actor, req.params.id));

    app.patch('/workspaces/:id', {
      config: { scope: 'workspaces:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        body: Type.Object({ name: Type.Optional(Name), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])), test_mode: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: Workspace, ...errors(409) },
      },
    }, async (req) => tenancy.updateWorkspace(req.actor, req.params.id, req.body));

    app.post('/users', {
      schema: {
        tags, security: bearer, summary: 'Create a user (platform admin)',
        body: Type.Object({
          email: Type.String({ format: 'email', maxLength: 320 }),
          name: Name,
          password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024 })),
          platform_admin: Type.Optional(Type.Boolean()),
        }, { additionalProperties: false }),
        response: { 201: User, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await tenancy.createUser(req.actor, req.body)));

    app.get('/users', {
      schema: { tags, security: bearer, summary: 'Every user (platform admin)', querystring: Type.Object(PageQuery), response: { 200: PageOf(User), ...errors() } },
    }, async (req) => tenancy.listUsers(req.actor, pageRequest(req.query)));

    app.post('/workspaces/:id/members', {
      config: { scope: 'members:write' },
      schema: {
        tags, security: bearer, summary: 'Add a member (or change their role); enforces the plan seat limit', params: IdParam,
        body: Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 64 }), role: Role }, { additionalProperties: false }),
        response: { 201: Member, ...errors(409) },
      },
    }, async (req, reply) => reply.status(201).send(await tenancy.addMember(req.actor, req.params.id, req.body)));

    app.get('/workspaces/:id/members', {
      config: { scope: 'members:read' },
      schema: { tags, security: bearer, params: IdParam, querystring: Type.Object(PageQuery), response: { 200: PageOf(Member), ...errors() } },
    }, async (req) => tenancy.listMembers(req.actor, req.params.id, pageRequest(req.query)));
  
    app.patch('/workspaces/:id/members/:user_id', {
      config: { scope: 'members:write' },
      schema: {
        tags, security: bearer, summary: "Change a member's role", params: MemberParams,
        body: Type.Object({ role: Role }, { additionalProperties: false }),
        response: { 200: Member, ...errors() },
      },
    }, async (req) => tenancy.changeMemberRole(req.actor, req.params.id, req.params.user_id, req.body.role));

    app.delete('/workspaces/:id/members/:user_id', {
      config: { scope: 'members:write' },
      schema: { tags, security: bearer, summary: 'Remove a member from the workspace', params: MemberParams, response: { 204: Type.Null(), ...errors() } },
    }, async (req, reply) => {
      await tenancy.removeMember(req.actor, req.params.id, req.params.user_id);
      return reply.status(204).send(null);
    });
  };
