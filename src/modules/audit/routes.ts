import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { canSeeWorkspace, requirePlatformAdmin, visibleWorkspaceIds, type Actor } from '../../http/actor.js';
import { bearer, errors } from '../../http/schemas.js';
import { invalid, notFound } from '../../lib/errors.js';
import { attachment } from '../../lib/export.js';
import { auditExport, auditView } from './export.js';
import { checkpointRoutes } from './routes-checkpoints.js';
import type { AuditService } from './service.js';
import type { AuditFilter } from './store.js';

const tags = ['audit'];

// The date-time format admits a leap second (23:59:60) that Date cannot represent: refuse it here
// rather than hand the database an Invalid Date.
function queryDate(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalid(`${field} is not a representable date-time`, { field });
  return date;
}

const Entry = Type.Object({
  seq: Type.Integer(),
  id: Type.String(),
  at: Type.String(),
  workspace_id: Type.Union([Type.String(), Type.Null()]),
  organization_id: Type.Union([Type.String(), Type.Null()], { description: 'the organization an entry concerns, when it is not one workspace\'s' }),
  actor: Type.Object({
    type: Type.String(),
    id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    request_id: Type.Union([Type.String(), Type.Null()]),
  }),
  action: Type.String(),
  category: Type.String(),
  severity: Type.String(),
  resource: Type.Union([Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  outcome: Type.String(),
  hash: Type.String(),
});

/** What the audit routes need of tenancy: an organization's trail is for its owners and admins. */
export interface OrganizationTrails {
  requireOrganizationRole(actor: Actor, organizationId: string, minimum: 'admin'): Promise<void>;
  organizationWorkspaceIds(organizationId: string): Promise<string[]>;
}

export const auditRoutes =
  ({ audit, tenancy }: { audit: AuditService; tenancy: OrganizationTrails }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/audit', {
      config: { scope: 'audit:read' },
      schema: {
        tags, security: bearer,
        summary: 'Audit entries, newest first; format=csv|json streams every match as a download',
        querystring: Type.Object({
          workspace_id: Type.Optional(Type.String({ maxLength: 64 })),
          organization_id: Type.Optional(Type.String({ maxLength: 64, description: "an organization's trail: its own entries and its workspaces' (its owners and admins)" })),
          actor: Type.Optional(Type.String({ maxLength: 64 })),
          action: Type.Optional(Type.String({ maxLength: 100 })),
          resource_type: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. api_key, webhook_endpoint' })),
          resource_id: Type.Optional(Type.String({ maxLength: 64 })),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
        }),
        response: { 200: Type.Object({ data: Type.Array(Entry), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors() },
      },
    }, async (req, reply) => {
      const q = req.query;
      const actor = req.actor;
      // Anyone below the platform admin reads exactly one workspace's trail, never an unfiltered one:
      // a workspace key its own, a person one they belong to (the only one, or the one they name).
      // An organization's owners and admins read its whole trail instead.
      const visible = visibleWorkspaceIds(actor);
      let organization: AuditFilter['organization'];
      if (q.organization_id) {
        await tenancy.requireOrganizationRole(actor, q.organization_id, 'admin');
        organization = { id: q.organization_id, workspaceIds: await tenancy.organizationWorkspaceIds(q.organization_id) };
      }
      const workspaceId = visible === undefined || organization ? q.workspace_id : (q.workspace_id ?? (visible.length === 1 ? visible[0] : undefined));
      if (visible !== undefined && !organization && (!workspaceId || !canSeeWorkspace(actor, workspaceId))) throw notFound('workspace');
      if (organization && workspaceId && !organization.workspaceIds.includes(workspaceId)) throw notFound('workspace');
      const filter = {
        workspaceId,
        organization,
        actor: q.actor,
        action: q.action,
        resourceType: q.resource_type,
        resourceId: q.resource_id,
        from: queryDate(q.from, 'from'),
        to: queryDate(q.to, 'to'),
      };
      if (q.format) {
        reply.headers(attachment('gatehouse-audit', q.format));
        return reply.send(auditExport(audit.list, filter, q.format) as never);
      }
      const limit = q.limit ?? 100;
      const rows = await audit.list({ ...filter, cursor: q.cursor, order: 'desc' }, limit);
      return { data: rows.map(auditView), next_cursor: rows.length === limit ? rows[rows.length - 1].seq : null };
    });

    app.get('/audit/verify', {
      config: { scope: 'audit:read' },
      schema: {
        tags, security: bearer, summary: 'Walk the hash chain and check it against its signed checkpoints (platform admin)',
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            entries: Type.Integer(),
            first_bad: Type.Optional(Type.Object({
              seq: Type.String(),
              id: Type.Optional(Type.String()),
              reason: Type.String({ description: 'hash_mismatch, broken_link, gap, truncated, checkpoint_mismatch or bad_signature' }),
              detail: Type.String(),
            })),
            checkpoints: Type.Object({
              verified: Type.Integer(),
              last_seq: Type.Union([Type.Integer(), Type.Null()]),
              from_file: Type.Optional(Type.Integer({ description: 'checkpoints read from GATEHOUSE_AUDIT_CHECKPOINT_FILE' })),
            }),
          }),
          ...errors(),
        },
      },
    }, async (req) => {
      requirePlatformAdmin(req.actor);
      return audit.verify();
    });

    await app.register(checkpointRoutes(audit));
  };
