-- Inbound webhooks: sources (one per provider feed, reached at /hooks/<id>), their sealed secrets,
-- the events received (each its own processing job), and rejected attempts (no payload). Expand only.

CREATE TABLE inbound_sources (
  id                 text PRIMARY KEY,  -- unguessable: it is the receiving URL
  workspace_id       text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  provider           text NOT NULL,
  name               text NOT NULL,
  enabled            boolean NOT NULL DEFAULT true,
  events             text[],            -- Gatehouse types to pass on; null: all
  settings           jsonb NOT NULL DEFAULT '{}'::jsonb,
  silent_after_s     integer,
  silent_alerted_at  timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, name)
);
CREATE INDEX inbound_sources_workspace_idx ON inbound_sources (workspace_id);

-- purpose: signing (current), signing_previous (accepted until expires_at), verify_token (Meta handshake)
CREATE TABLE inbound_source_secrets (
  source_id       text NOT NULL REFERENCES inbound_sources(id) ON DELETE CASCADE,
  purpose         text NOT NULL CHECK (purpose IN ('signing', 'signing_previous', 'verify_token')),
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  mask            text NOT NULL,
  expires_at      timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_id, purpose)
);

-- One row per event received, written in the receiving request's one statement: it is also the
-- processing job (claimed with FOR UPDATE SKIP LOCKED and a lease, like deliveries).
CREATE TABLE inbound_events (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  source_id        text NOT NULL REFERENCES inbound_sources(id) ON DELETE CASCADE,
  dedup_key        text NOT NULL,      -- the provider's event id, or a hash of the body
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'processed', 'ignored', 'failed')),
  signature        text NOT NULL CHECK (signature IN ('verified', 'token', 'unsigned')),
  provider_type    text,
  event_types      text[],             -- the Gatehouse types it was published as
  published        text[],             -- the outbound event ids
  content_type     text,
  headers          jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_ip        text,
  user_agent       text,
  body             bytea NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  replays          integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_error       text,
  received_at      timestamptz NOT NULL DEFAULT now(),
  processed_at     timestamptz,
  UNIQUE (source_id, dedup_key)
);
CREATE INDEX inbound_events_due_idx ON inbound_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX inbound_events_lease_idx ON inbound_events (locked_until) WHERE status = 'processing';
CREATE INDEX inbound_events_workspace_idx ON inbound_events (workspace_id, id DESC);
CREATE INDEX inbound_events_source_idx ON inbound_events (source_id, received_at DESC);

-- A request that failed verification: who sent it and why it was refused, never what it carried.
CREATE TABLE inbound_rejections (
  id            bigserial PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  source_id     text NOT NULL REFERENCES inbound_sources(id) ON DELETE CASCADE,
  reason        text NOT NULL,
  source_ip     text,
  user_agent    text,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_rejections_source_idx ON inbound_rejections (source_id, received_at DESC);
