-- Sign-in state as the auth module's own relation. The columns stay in users for now (release N
-- still reads and writes them there while N+1 rolls out: expand only); auth reads and writes them
-- only through this view, tenancy only the person's identity in users. A later release may turn
-- the view into a table of its own (a contract step).
CREATE VIEW user_logins AS
  SELECT id AS user_id, email, name, platform_admin, password_hash, failed_logins, locked_until, mfa_enabled, totp_last_step
  FROM users;
