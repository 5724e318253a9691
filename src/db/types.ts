import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface OrganizationsTable {
  id: string;
  name: string;
  plan: 'free' | 'starter' | 'professional' | 'enterprise';
  seat_limit: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  mfa_required: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface WorkspacesTable {
  id: string;
  organization_id: string;
  name: string;
  status: ColumnType<'active' | 'inactive', 'active' | 'inactive' | undefined, 'active' | 'inactive'>;
  test_mode: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  platform_admin: boolean;
  created_at: Timestamp;
  failed_logins: ColumnType<number, number | undefined, number>;
  locked_until: NullableTimestamp;
  mfa_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** The last TOTP step (unix time / 30) accepted from this person; advanced only by compare-and-set. */
  totp_last_step: ColumnType<string | null, never, never>;
}

export interface MembersTable {
  workspace_id: string;
  user_id: string;
  role: 'admin' | 'manager' | 'member' | 'read_only';
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string | null;
  name: string;
  environment: 'live' | 'test';
  key_hash: string;
  start: string;
  scopes: string[];
  platform_admin: boolean;
  expires_at: NullableTimestamp;
  remaining: number | null;
  ip_allowlist: string[] | null;
  rate_limit: number | null;
  rate_window_s: number | null;
  created_by: string | null;
  created_at: Timestamp;
  revoke_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  replaced_by: string | null;
  last_used_at: NullableTimestamp;
  last_used_ip: string | null;
  /** The key that minted this one (revoking it revokes this); null when a person or the platform admin did. */
  parent_key_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The key whose `remaining` this one spends (a share of its minter's or predecessor's uses); null: its own. */
  uses_key_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApiKeyUsageDailyTable {
  key_id: string;
  day: ColumnType<string, string, string>;
  requests: ColumnType<string, number | string, number | string>;
}

export interface JobsTable {
  id: Generated<string>;
  kind: string;
  payload: unknown;
  status: 'pending' | 'running' | 'done' | 'failed';
  run_at: Timestamp;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  last_error: string | null;
  unique_key: string | null;
  created_at: Timestamp;
  finished_at: NullableTimestamp;
  result: ColumnType<unknown, string | null | undefined, string | null>;
}

export interface AuditLogTable {
  seq: Generated<string>;
  id: string;
  at: ColumnType<Date, string, never>;
  workspace_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  action: string;
  category: string;
  severity: 'info' | 'warning' | 'critical';
  resource_type: string | null;
  resource_id: string | null;
  before: unknown;
  after: unknown;
  outcome: 'success' | 'failure';
  prev_hash: string;
  hash: string;
}

export interface DB extends DB002, DB004, DB005, DB006 {
  organizations: OrganizationsTable;
  workspaces: WorkspacesTable;
  users: UsersTable;
  members: MembersTable;
  api_keys: ApiKeysTable;
  api_key_usage_daily: ApiKeyUsageDailyTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_seq_origin: { gapless_after: string };
}

/** A query runner: the database itself or an open transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
export type AuditRow = Selectable<AuditLogTable>;

// ---- 013_audit_checkpoints ----

/** A signed attestation that entry `seq` of the audit chain had `hash` at time `at`. */
export interface AuditCheckpointsTable {
  id: Generated<string>;
  seq: string;
  hash: string;
  at: ColumnType<Date, string, never>;
  key_id: string;
  public_key: string;
  signature: string;
}

// ---- 002_credentials ----

export interface ProviderInstancesTable {
  id: string;
  provider: string;
  name: string;
  base_url: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SealedColumns {
  master_version: string;
  wrapped_key: string;
  ciphertext: string;
  mask: string;
  updated_at: Timestamp;
}

export interface InstanceAdminSecretsTable extends SealedColumns {
  instance_id: string;
}

export interface CredentialsTable {
  id: string;
  workspace_id: string;
  provider: string;
  instance_id: string | null;
  name: string | null;
  fields: ColumnType<Record<string, string>, string, string>;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CredentialSecretsTable extends SealedColumns {
  credential_id: string;
  field: string;
}

export interface UpstreamCallsTable {
  id: Generated<string>;
  workspace_id: string;
  provider: string;
  credential_id: string | null;
  method: string;
  endpoint: string;
  status_code: number | null;
  ok: boolean;
  duration_ms: number;
  attempts: number;
  key_suffix: string | null;
  caller: string | null;
  trigger: 'api' | 'job' | 'portal' | 'test' | 'monitor' | 'sync';
  error: string | null;
  created_at: Timestamp;
}

export interface CredentialHealthTable {
  workspace_id: string;
  provider: string;
  last_success_at: NullableTimestamp;
  last_failure_at: NullableTimestamp;
  consecutive_failures: number;
  last_status_code: number | null;
  last_error: string | null;
  updated_at: Timestamp;
}

export interface CredentialHealthDailyTable {
  workspace_id: string;
  provider: string;
  day: ColumnType<string, string, string>;
  calls: ColumnType<string, number | string, number | string>;
  errors: ColumnType<string, number | string, number | string>;
}

export interface SyncRunsTable {
  id: string;
  workspace_id: string;
  provider: string;
  kind: string;
  status: 'running' | 'ok' | 'mismatch' | 'failed';
  fetched: number;
  unique_count: number;
  provider_total: number | null;
  duplicates: number;
  pages: number;
  error: string | null;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface EmailbisonSenderEmailsTable {
  workspace_id: string;
  provider_id: string;
  email: string;
  name: string | null;
  status: string | null;
  data: ColumnType<unknown, string, string>;
  synced_at: Timestamp;
}

export interface EventsTable {
  id: string;
  workspace_id: string;
  type: string;
  payload: ColumnType<unknown, string, string>;
  idempotency_key: string | null;
  trace_parent: Generated<string | null>;
  created_at: Timestamp;
}

export interface DB002 {
  provider_instances: ProviderInstancesTable;
  instance_admin_secrets: InstanceAdminSecretsTable;
  credentials: CredentialsTable;
  credential_secrets: CredentialSecretsTable;
  upstream_calls: UpstreamCallsTable;
  credential_health: CredentialHealthTable;
  credential_health_daily: CredentialHealthDailyTable;
  sync_runs: SyncRunsTable;
  emailbison_sender_emails: EmailbisonSenderEmailsTable;
  events: EventsTable;
}

// ---- 004_webhooks ----

type Counter = ColumnType<string, number | string | undefined, number | string>;

export interface EventTypesTable {
  workspace_id: string;
  name: string;
  description: string | null;
  created_at: Timestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  workspace_id: string;
  name: string | null;
  description: string | null;
  url: string;
  events: string[];
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: string | null;
  timeout_s: ColumnType<number, number | undefined, number>;
  max_retries: ColumnType<number, number | undefined, number>;
  max_in_flight: ColumnType<number, number | undefined, number>;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  total: Counter;
  succeeded: Counter;
  failed: Counter;
  last_called_at: NullableTimestamp;
  failing_since: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookEndpointSecretsTable extends SealedColumns {
  endpoint_id: string;
  purpose: 'signing' | 'signing_previous' | 'auth_token';
  expires_at: NullableTimestamp;
}

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'dead';

export interface WebhookDeliveriesTable {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  next_attempt_at: Timestamp;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  last_status: number | null;
  last_error: string | null;
  created_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface WebhookAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  endpoint_id: string;
  workspace_id: string;
  attempt: number;
  worker_id: string;
  url: string;
  request_headers: ColumnType<Record<string, string>, string, string>;
  response_status: number | null;
  response_body: string | null;
  duration_ms: number;
  error: string | null;
  outcome: 'succeeded' | 'retrying' | 'failed';
  next_attempt_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface WebhookStatsTable {
  workspace_id: string;
  endpoint_id: string;
  period: Timestamp;
  attempts: Counter;
  succeeded: Counter;
  failed: Counter;
  latency_sum_ms: Counter;
  latency_buckets: ColumnType<string[], string, string>;
}

// ---- 010_sealed_headers ----

/** An endpoint's custom header values, sealed together as one JSON object; `masks` is what views show. */
export interface WebhookEndpointHeadersTable {
  endpoint_id: string;
  master_version: string;
  wrapped_key: string;
  ciphertext: string;
  masks: ColumnType<Record<string, string>, string, string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface DB004 {
  event_types: EventTypesTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_endpoint_secrets: WebhookEndpointSecretsTable;
  webhook_endpoint_headers: WebhookEndpointHeadersTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  webhook_stats: WebhookStatsTable;
}

// ---- 005_inbound ----

export interface InboundSourcesTable {
  id: string;
  workspace_id: string;
  provider: string;
  name: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  events: string[] | null;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  silent_after_s: number | null;
  silent_alerted_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface InboundSourceSecretsTable extends SealedColumns {
  source_id: string;
  purpose: 'signing' | 'signing_previous' | 'verify_token';
  expires_at: NullableTimestamp;
}

export type InboundStatus = 'pending' | 'processing' | 'processed' | 'ignored' | 'failed';

export interface InboundEventsTable {
  id: string;
  workspace_id: string;
  source_id: string;
  dedup_key: string;
  status: ColumnType<InboundStatus, InboundStatus | undefined, InboundStatus>;
  signature: 'verified' | 'token' | 'unsigned';
  provider_type: string | null;
  event_types: string[] | null;
  published: string[] | null;
  content_type: string | null;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  source_ip: string | null;
  user_agent: string | null;
  body: ColumnType<Uint8Array, Uint8Array, Uint8Array>;
  attempts: ColumnType<number, number | undefined, number>;
  replays: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  last_error: string | null;
  received_at: Timestamp;
  processed_at: NullableTimestamp;
}

export interface InboundRejectionsTable {
  id: Generated<string>;
  workspace_id: string;
  source_id: string;
  reason: string;
  source_ip: string | null;
  user_agent: string | null;
  received_at: Timestamp;
}

export interface DB005 {
  inbound_sources: InboundSourcesTable;
  inbound_source_secrets: InboundSourceSecretsTable;
  inbound_events: InboundEventsTable;
  inbound_rejections: InboundRejectionsTable;
}

// ---- 006_portal ----

export interface UserSecretsTable extends Omit<SealedColumns, 'mask'> {
  /** Always null since migration 012: a TOTP secret is never shown again, so no part of it is kept in clear. */
  mask: string | null;
  user_id: string;
  purpose: 'totp' | 'totp_pending';
}

export interface SessionsTable {
  id_hash: string;
  /** What the person sees and ends a session by (migration 012); the token and its hash stay inside. */
  public_id: ColumnType<string, string | undefined, never>;
  user_id: string;
  csrf_token: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  ended_at: NullableTimestamp;
}

export interface DB006 {
  user_secrets: UserSecretsTable;
  sessions: SessionsTable;
}
