-- Provider instances, workspace credentials (secrets sealed per field), the upstream call log,
-- per-workspace health, Email Bison sender-email sync, and the event outbox later issues deliver.

CREATE TABLE provider_instances (
  id          text PRIMARY KEY,
  provider    text NOT NULL,
  name        text NOT NULL UNIQUE,
  base_url    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The instance-admin secret (Email Bison super admin) lives apart from workspace credentials:
-- nothing that resolves a workspace's credential can read this table.
CREATE TABLE instance_admin_secrets (
  instance_id     text PRIMARY KEY REFERENCES provider_instances(id) ON DELETE CASCADE,
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  mask            text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credentials (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  provider      text NOT NULL,
  instance_id   text REFERENCES provider_instances(id),
  name          text,
  fields        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider)
);
CREATE INDEX credentials_instance_idx ON credentials (instance_id);

CREATE TABLE credential_secrets (
  credential_id   text NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
  field           text NOT NULL,
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  mask            text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (credential_id, field)
);
CREATE INDEX credential_secrets_version_idx ON credential_secrets (master_version);

CREATE TABLE upstream_calls (
  id            bigserial PRIMARY KEY,
  workspace_id  text NOT NULL,
  provider      text NOT NULL,
  credential_id text,
  method        text NOT NULL,
  endpoint      text NOT NULL,
  status_code   integer,
  ok            boolean NOT NULL,
  duration_ms   integer NOT NULL,
  attempts      integer NOT NULL DEFAULT 1,
  key_suffix    text,
  caller        text,
  trigger       text NOT NULL CHECK (trigger IN ('api', 'job', 'portal', 'test', 'monitor', 'sync')),
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upstream_calls_workspace_idx ON upstream_calls (workspace_id, created_at DESC);
CREATE INDEX upstream_calls_created_idx ON upstream_calls (created_at);

CREATE TABLE credential_health (
  workspace_id          text NOT NULL REFERENCES workspaces(id),
  provider              text NOT NULL,
  last_success_at       timestamptz,
  last_failure_at       timestamptz,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  last_status_code      integer,
  last_error            text,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, provider)
);

CREATE TABLE credential_health_daily (
  workspace_id  text NOT NULL,
  provider      text NOT NULL,
  day           date NOT NULL,
  calls         bigint NOT NULL DEFAULT 0,
  errors        bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, provider, day)
);

CREATE TABLE sync_runs (
  id              text PRIMARY KEY,
  workspace_id    text NOT NULL REFERENCES workspaces(id),
  provider        text NOT NULL,
  kind            text NOT NULL,
  status          text NOT NULL CHECK (status IN ('running', 'ok', 'mismatch', 'failed')),
  fetched         integer NOT NULL DEFAULT 0,
  unique_count    integer NOT NULL DEFAULT 0,
  provider_total  integer,
  duplicates      integer NOT NULL DEFAULT 0,
  pages           integer NOT NULL DEFAULT 0,
  error           text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX sync_runs_workspace_idx ON sync_runs (workspace_id, started_at DESC);

CREATE TABLE emailbison_sender_emails (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  provider_id   bigint NOT NULL,
  email         text NOT NULL,
  name          text,
  status        text,
  data          jsonb NOT NULL,
  synced_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, provider_id)
);

-- Gatehouse's own events (gatehouse.credential.failing …), written in the transaction that caused
-- them; the outbound webhook workers deliver from here.
CREATE TABLE events (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id),
  type             text NOT NULL,
  payload          jsonb NOT NULL,
  idempotency_key  text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX events_workspace_idx ON events (workspace_id, created_at DESC);
