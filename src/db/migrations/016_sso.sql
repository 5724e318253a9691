-- Single sign-on with OpenID Connect, per organization. The client secret is sealed like every other
-- secret (envelope, bound to the organization); each allowed email domain names one organization
-- only, so an email finds its organization without ambiguity (the primary key holds that, race-free).
-- A sign-in attempt lives ten minutes and is used once: its row is deleted by the callback that uses
-- it, and the state is kept only as its SHA-256.
CREATE TABLE sso_configs (
  organization_id  text PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  preset           text CHECK (preset IN ('google', 'microsoft', 'okta')),
  issuer           text NOT NULL,
  client_id        text NOT NULL,
  enforce          boolean NOT NULL DEFAULT false,
  default_role     text NOT NULL CHECK (default_role IN ('owner', 'admin', 'member', 'read_only')),
  master_version   text NOT NULL,
  wrapped_key      text NOT NULL,
  ciphertext       text NOT NULL,
  mask             text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sso_domains (
  domain           text PRIMARY KEY CHECK (domain = lower(domain)),
  organization_id  text NOT NULL REFERENCES sso_configs(organization_id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_organization ON sso_domains (organization_id);

-- purpose: login (opens a session) or test (an admin's trial: reports the claims, opens nothing).
-- browser_hash: SHA-256 of the cookie set on the browser that started a login, so a callback URL
-- carried to another browser cannot sign that browser in.
CREATE TABLE sso_attempts (
  state_hash       text PRIMARY KEY,
  organization_id  text NOT NULL REFERENCES sso_configs(organization_id) ON DELETE CASCADE,
  purpose          text NOT NULL CHECK (purpose IN ('login', 'test')),
  nonce            text NOT NULL,
  code_verifier    text NOT NULL,
  browser_hash     text,
  created_by       text,
  expires_at       timestamptz NOT NULL
);
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_at);
