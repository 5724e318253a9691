-- Email through a durable outbox, and the account lifecycle (password reset, TOTP recovery codes).
--
-- mail_outbox (mail module): one row per email, written in the transaction of the change that
-- causes it; the mail.send job sends it. The body is the email itself (a reset link is a
-- credential), so it lives apart, sealed, in mail_bodies, and is deleted once the email is sent or
-- has failed for good: listing the outbox never reads it.
CREATE TABLE mail_outbox (
  id               text PRIMARY KEY,
  organization_id  text,
  to_address       text NOT NULL,
  subject          text NOT NULL,
  purpose          text NOT NULL,
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz
);
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at, id);
CREATE INDEX mail_outbox_org_idx ON mail_outbox (organization_id, created_at, id);

CREATE TABLE mail_bodies (
  message_id      text PRIMARY KEY REFERENCES mail_outbox(id) ON DELETE CASCADE,
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL
);

-- auth: a reset link's token is kept only as its SHA-256; used once, valid an hour.
CREATE TABLE password_resets (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- auth: one-time codes that stand in for a TOTP code, kept only as their SHA-256.
CREATE TABLE recovery_codes (
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, code_hash)
);
