-- Outbound webhooks: endpoints, their sealed secrets, deliveries (the queue), every attempt, and
-- 5-minute roll-ups for analytics. Expand only.

-- A test-mode workspace may send to http:// and private addresses (a developer's receiver).
ALTER TABLE workspaces ADD COLUMN test_mode boolean NOT NULL DEFAULT false;

CREATE TABLE event_types (
  workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name          text NOT NULL,
  description   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, name)
);

CREATE TABLE webhook_endpoints (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name             text,
  description      text,
  url              text NOT NULL,
  events           text[] NOT NULL,
  enabled          boolean NOT NULL DEFAULT true,
  disabled_reason  text,
  timeout_s        integer NOT NULL DEFAULT 30 CHECK (timeout_s BETWEEN 1 AND 300),
  max_retries      integer NOT NULL DEFAULT 8 CHECK (max_retries BETWEEN 0 AND 10),
  max_in_flight    integer NOT NULL DEFAULT 4 CHECK (max_in_flight BETWEEN 1 AND 100),
  headers          jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- counters: SQL increments only
  total            bigint NOT NULL DEFAULT 0,
  succeeded        bigint NOT NULL DEFAULT 0,
  failed           bigint NOT NULL DEFAULT 0,
  last_called_at   timestamptz,
  -- set by the first failure after a success, cleared by a success: continuous failure since then
  failing_since    timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, name)
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);

-- purpose: signing (current), signing_previous (valid until expires_at), auth_token
CREATE TABLE webhook_endpoint_secrets (
  endpoint_id     text NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  purpose         text NOT NULL CHECK (purpose IN ('signing', 'signing_previous', 'auth_token')),
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  mask            text NOT NULL,
  expires_at      timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (endpoint_id, purpose)
);

-- One row per (event, endpoint): the unit that is retried, dead-lettered and replayed. It is its own
-- queue: claimed with FOR UPDATE SKIP LOCKED and a lease, like jobs.
CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY,
  workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  endpoint_id      text NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id         text NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'succeeded', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  -- attempts allowed before dead-lettering, from the endpoint's max_retries when queued; a replay raises it
  max_attempts     integer NOT NULL,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (locked_until) WHERE status = 'delivering';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (workspace_id, finished_at DESC) WHERE status = 'dead';

CREATE TABLE webhook_attempts (
  id               bigserial PRIMARY KEY,
  delivery_id      text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  endpoint_id      text NOT NULL,
  workspace_id     text NOT NULL,
  attempt          integer NOT NULL,
  worker_id        text NOT NULL,
  url              text NOT NULL,
  request_headers  jsonb NOT NULL,
  response_status  integer,
  response_body    text,
  duration_ms      integer NOT NULL,
  error            text,
  outcome          text NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed')),
  next_attempt_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_created_idx ON webhook_attempts (created_at);

-- Analytics read these, never the attempts: one row per endpoint and 5-minute period, so a 30-day
-- window is at most 8,640 rows per endpoint whatever the number of attempts. latency_buckets counts
-- attempts per latency bucket (bounds in src/modules/webhooks/record.ts), so p95 comes from the histogram.
CREATE TABLE webhook_stats (
  workspace_id     text NOT NULL,
  endpoint_id      text NOT NULL,
  period           timestamptz NOT NULL,
  attempts         bigint NOT NULL DEFAULT 0,
  succeeded        bigint NOT NULL DEFAULT 0,
  failed           bigint NOT NULL DEFAULT 0,
  latency_sum_ms   bigint NOT NULL DEFAULT 0,
  latency_buckets  bigint[] NOT NULL,
  PRIMARY KEY (workspace_id, endpoint_id, period)
);

-- The claim walks endpoints and takes each one's oldest due deliveries up to its free slots.
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
