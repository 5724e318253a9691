-- Foundation: tenancy, Gatehouse API keys, usage buckets, the job table and the audit chain.

CREATE TABLE organizations (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  plan        text NOT NULL CHECK (plan IN ('free', 'starter', 'professional', 'enterprise')),
  seat_limit  integer CHECK (seat_limit IS NULL OR seat_limit > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
  id               text PRIMARY KEY,
  organization_id  text NOT NULL REFERENCES organizations(id),
  name             text NOT NULL,
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_id, name)
);

CREATE TABLE users (
  id              text PRIMARY KEY,
  email           text NOT NULL,
  name            text NOT NULL,
  password_hash   text,
  platform_admin  boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE members (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  user_id       text NOT NULL REFERENCES users(id),
  role          text NOT NULL CHECK (role IN ('admin', 'manager', 'member', 'read_only')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX members_user_idx ON members (user_id);

-- workspace_id is NULL only for platform admin keys, which stand above every workspace.
CREATE TABLE api_keys (
  id                   text PRIMARY KEY,
  workspace_id         text REFERENCES workspaces(id),
  name                 text NOT NULL,
  environment          text NOT NULL CHECK (environment IN ('live', 'test')),
  key_hash             text NOT NULL UNIQUE,
  start                text NOT NULL,
  scopes               text[] NOT NULL,
  platform_admin       boolean NOT NULL DEFAULT false,
  expires_at           timestamptz,
  remaining            integer CHECK (remaining IS NULL OR remaining >= 0),
  ip_allowlist         text[],
  rate_limit           integer,
  rate_window_s        integer,
  created_by           text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  revoke_at            timestamptz,
  revoked_at           timestamptz,
  revoked_reason       text,
  replaced_by          text,
  last_used_at         timestamptz,
  last_used_ip         text,
  CHECK ((workspace_id IS NULL) = platform_admin),
  CHECK ((rate_limit IS NULL) = (rate_window_s IS NULL))
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at);
CREATE INDEX api_keys_revoke_due_idx ON api_keys (revoke_at) WHERE revoked_at IS NULL AND revoke_at IS NOT NULL;
CREATE INDEX api_keys_expiry_due_idx ON api_keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

-- Per-day buckets: incremented by batched flushes, never read-modify-written.
CREATE TABLE api_key_usage_daily (
  key_id    text NOT NULL REFERENCES api_keys(id),
  day       date NOT NULL,
  requests  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, day)
);

CREATE TABLE jobs (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL,
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  run_at        timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL DEFAULT 10,
  locked_by     text,
  locked_until  timestamptz,
  last_error    text,
  unique_key    text UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status = 'pending';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';

-- seq orders the chain: appends take a transaction-scoped advisory lock, so seq follows commit order.
CREATE TABLE audit_log (
  seq            bigserial PRIMARY KEY,
  id             text NOT NULL UNIQUE,
  at             timestamptz NOT NULL,
  workspace_id   text,
  actor_type     text NOT NULL,
  actor_id       text,
  actor_ip       text,
  user_agent     text,
  request_id     text,
  action         text NOT NULL,
  category       text NOT NULL,
  severity       text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  resource_type  text,
  resource_id    text,
  before         jsonb,
  after          jsonb,
  outcome        text NOT NULL CHECK (outcome IN ('success', 'failure')),
  prev_hash      text NOT NULL,
  hash           text NOT NULL
);
CREATE INDEX audit_workspace_idx ON audit_log (workspace_id, seq);
CREATE INDEX audit_at_idx ON audit_log (at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
