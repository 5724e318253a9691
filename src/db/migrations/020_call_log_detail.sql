-- The call log says which provider instance a call went to (an agency's Email Bison instance); the
-- error column now keeps the provider's own message on HTTP failures too (1 KB, the credential's
-- secrets scrubbed), so a failure explains itself in API Logs.
ALTER TABLE upstream_calls ADD COLUMN instance_id text;
