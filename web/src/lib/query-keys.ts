/**
 * The portal's query keys (the Webhooks tab keeps its own in pages/workspace/webhooks/model.ts): a
 * page that changes something invalidates the very key that the page showing it reads.
 */
export const queryKeys = {
  me: ['me'] as const,
  workspaces: ['workspaces'] as const,
  workspace: (id: string) => ['workspace', id] as const,
  organizations: ['organizations'] as const,
  sso: (organizationId: string) => ['sso', organizationId] as const,
  ssoPresets: ['sso-presets'] as const,
  users: ['users'] as const,
  members: (workspaceId: string | null) => ['members', workspaceId] as const,
  sessions: ['auth-sessions'] as const,
  providers: ['providers'] as const,
  instances: ['instances'] as const,
  mailOutbox: ['mail-outbox'] as const,
  fleet: ['fleet'] as const,
  healthSummary: ['health-summary'] as const,
  coverage: ['coverage'] as const,
  audit: (query: string) => ['audit', query] as const,
  auditVerify: ['audit-verify'] as const,
  apiKeys: (workspaceId: string) => ['api-keys', workspaceId] as const,
  apiKeyUsage: (keyId: string) => ['api-key-usage', keyId] as const,
  apiLogs: (workspaceId: string, query: string, cursor: string | undefined) => ['api-logs', workspaceId, query, cursor] as const,
  credentials: (workspaceId: string) => ['credentials', workspaceId] as const,
  workspaceHealth: (workspaceId: string) => ['workspace-health', workspaceId] as const,
  onboarding: (workspaceId: string) => ['onboarding', workspaceId] as const,
  inboundSources: (workspaceId: string) => ['inbound-sources', workspaceId] as const,
  /** With no filter: every filtered list of the workspace, for invalidation. */
  inboundEvents: (workspaceId: string, ...filter: Array<string | null>) => ['inbound-events', workspaceId, ...filter] as const,
  inboundEvent: (id: string | null) => ['inbound-event', id] as const,
  eventTypes: (workspaceId: string) => ['event-types', workspaceId] as const,
  // One organization's own page (Settings → Organization); its workspaces list, like the others, is under `workspaces`.
  organization: (id: string | null) => ['organization', id] as const,
  organizationMembers: (id: string | null) => ['organization-members', id] as const,
  organizationWorkspaces: (id: string | null) => ['workspaces', 'of-organization', id] as const,
  invitations: (organizationId: string | null) => ['invitations', organizationId] as const,
  /** What an invitation link offers: read on the acceptance page, signed in or not (kept when a 401 clears the rest). */
  invitationLookup: (token: string | null) => ['invitation-lookup', token] as const,
  organizationAudit: (id: string | null) => ['audit', 'organization', id] as const,
};
