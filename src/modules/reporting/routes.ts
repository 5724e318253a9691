import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, Nullable } from '../../http/schemas.js';
import type { TenancyService } from '../tenancy/service.js';
import type { UpstreamService } from '../upstream/service.js';
import type { ReportingService } from './service.js';
import { visibleWorkspaceIds } from '../../http/actor.js';

const tags = ['health'];
const Status = Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('failing'), Type.Literal('no_key')]);
const WorkspaceSummary = Type.Object({
  id: Type.String(), name: Type.String(), organization_id: Type.String(), status: Type.String(), test_mode: Type.Boolean(),
  health: Status,
  credentials: Type.Array(Type.Object({
    provider: Type.String(), instance_id: Nullable(Type.String()), instance_name: Nullable(Type.String()), status: Status,
    consecutive_failures: Type.Integer(), last_error: Nullable(Type.String()),
  })),
  key: Nullable(Type.Object({ start: Type.String({ description: 'the first characters of the most recently used live key' }), last_used_at: Nullable(Type.String()), active: Type.Integer({ description: 'live keys' }) })),
  calls_today: Type.Object({ calls: Type.Integer(), errors: Type.Integer() }),
  webhooks: Type.Object({ endpoints: Type.Integer(), enabled: Type.Integer(), failing: Type.Integer(), succeeded_24h: Type.Integer(), failed_24h: Type.Integer() }),
  inbound: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), provider: Type.String(), enabled: Type.Boolean(), last_received_at: Nullable(Type.String()), silent: Type.Boolean() })),
  last_event_at: Nullable(Type.String({ description: 'the latest outbound event published or inbound event received' })),
});
const Counts = Type.Object({ healthy: Type.Number(), degraded: Type.Number(), failing: Type.Number(), no_key: Type.Number() });

export const reportingRoutes =
  ({ reporting, tenancy, upstream }: { reporting: ReportingService; tenancy: TenancyService; upstream: Pick<UpstreamService, 'settled'> }): FastifyPluginAsyncTypebox =>
  async (app) => {
    // Calls are recorded just after they are answered: every read here first waits for this
    // process's records in flight, so a caller always sees the calls it has made.
    app.addHook('preHandler', async () => upstream.settled());
    app.get('/workspaces/:id/health', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'Per provider: status, last success and failure, consecutive failures, calls and errors per day',
        response: {
          200: Type.Object({
            workspace_id: Type.String(),
            status: Status,
            providers: Type.Array(Type.Object({
              provider: Type.String(), status: Status,
              last_success_at: Type.Union([Type.String(), Type.Null()]), last_failure_at: Type.Union([Type.String(), Type.Null()]),
              consecutive_failures: Type.Integer(), last_status_code: Type.Union([Type.Integer(), Type.Null()]), last_error: Type.Union([Type.String(), Type.Null()]),
              today: Type.Object({ calls: Type.Integer(), errors: Type.Integer(), success_rate: Type.Union([Type.Number(), Type.Null()]) }),
              days: Type.Array(Type.Object({ day: Type.String(), calls: Type.Integer(), errors: Type.Integer() })),
            })),
            last_sync: Type.Union([Type.Object({
              id: Type.String(), kind: Type.String(), status: Type.String(), fetched: Type.Integer(), unique: Type.Integer(),
              provider_total: Type.Union([Type.Integer(), Type.Null()]), duplicates: Type.Integer(), finished_at: Type.Union([Type.String(), Type.Null()]),
            }), Type.Null()]),
          }),
          ...errors(),
        },
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return reporting.workspaceHealth(req.params.id);
    });

    app.get('/health/summary', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, summary: 'Active workspaces per health status, with percentages (a workspace key sees its own)',
        response: { 200: Type.Object({ total: Type.Integer(), counts: Counts, percentages: Counts }), ...errors() },
      },
    }, async (req) => reporting.summary(visibleWorkspaceIds(req.actor)));

    app.get('/health/workspaces', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, summary: 'Every workspace this caller can see, with its credentials, key, calls today, webhooks and inbound sources at a glance',
        response: { 200: Type.Object({ data: Type.Array(WorkspaceSummary) }), ...errors() },
      },
    }, async (req) => ({ data: await reporting.workspaces(visibleWorkspaceIds(req.actor)) }));

    app.get('/coverage', {
      config: { scope: 'credentials:read' },
      schema: {
        tags, security: bearer, summary: 'Per provider and instance: active workspaces with and without a credential',
        response: {
          200: Type.Object({
            workspaces: Type.Integer(),
            providers: Type.Array(Type.Object({
              provider: Type.String(), workspaces: Type.Integer(), with_credential: Type.Integer(), without_credential: Type.Integer(), coverage_pct: Type.Number(),
              instances: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), with_credential: Type.Integer() })),
            })),
          }),
          ...errors(),
        },
      },
    }, async (req) => reporting.coverage(visibleWorkspaceIds(req.actor)));

    app.get('/workspaces/:id/onboarding', {
      config: { scope: 'workspaces:read' },
      schema: {
        tags, security: bearer, params: IdParam, summary: 'The checklist, derived from real state (never a ticked flag)',
        response: {
          200: Type.Object({
            workspace_id: Type.String(),
            completed: Type.Integer(),
            total: Type.Integer(),
            steps: Type.Array(Type.Object({ id: Type.String(), label: Type.String(), done: Type.Boolean(), detail: Type.String() })),
          }),
          ...errors(),
        },
      },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return reporting.onboarding(req.params.id);
    });
  };
