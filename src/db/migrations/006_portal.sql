-- People signing in to the portal: sessions (cookie + CSRF token), lockout after repeated failures,
-- optional TOTP MFA (an organization can require it). Expand only.

ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until timestamptz;
ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE organizations ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;

-- purpose: totp (confirmed), totp_pending (enrolled, not yet confirmed with a code)
CREATE TABLE user_secrets (
  user_id         text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose         text NOT NULL CHECK (purpose IN ('totp', 'totp_pending')),
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  mask            text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, purpose)
);

-- The cookie holds a random token; only its SHA-256 is stored. csrf_token is sent back on every
-- state-changing request (x-csrf-token): a page of another site can make the browser send the
-- cookie, never read this.
CREATE TABLE sessions (
  id_hash       text PRIMARY KEY,
  user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token    text NOT NULL,
  ip            text,
  user_agent    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  ended_at      timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
