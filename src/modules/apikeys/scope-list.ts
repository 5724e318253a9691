// Kept free of Node imports: the portal bundles this list too, so its scope picker cannot drift from the server.
/** Every scope a key can hold; `resource:*` and `*` grant families. */
export const KNOWN_SCOPES = [
  'organizations:read',
  'workspaces:read',
  'workspaces:write',
  'members:read',
  'members:write',
  'keys:read',
  'keys:write',
  'keys:verify',
  'credentials:read',
  'credentials:write',
  'upstream:call',
  'webhooks:read',
  'webhooks:write',
  'events:write',
  'inbound:read',
  'inbound:write',
  'audit:read',
] as const;
