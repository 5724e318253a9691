-- Sign-in that resists guessing: each TOTP step is accepted once (users.totp_last_step, advanced by a
-- compare-and-set so two requests with one code cannot both pass); a TOTP secret keeps no mask (it is
-- never shown again, so a mask only leaks part of it); each session gets a public id by which its
-- person lists and ends it (the cookie's token and its hash never leave the server). Expand only.
ALTER TABLE users ADD COLUMN totp_last_step bigint;
ALTER TABLE user_secrets ALTER COLUMN mask DROP NOT NULL;
UPDATE user_secrets SET mask = NULL;
ALTER TABLE sessions ADD COLUMN public_id text NOT NULL DEFAULT ('ses_' || replace(gen_random_uuid()::text, '-', ''));
