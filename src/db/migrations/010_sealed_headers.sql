-- Custom header values of webhook endpoints are sealed like auth_token, and masks show less of short secrets.
-- One row per endpoint holds all its header values as one sealed JSON object (bound to the endpoint by
-- the envelope's additional data), with a mask per header for the views. webhook_endpoints.headers keeps
-- only values written before this table existed: every process seals those as it starts and empties the
-- column (SQL has no master key), and a delivery sends both until then, so no endpoint loses a header.
CREATE TABLE webhook_endpoint_headers (
  endpoint_id     text PRIMARY KEY REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  master_version  text NOT NULL,
  wrapped_key     text NOT NULL,
  ciphertext      text NOT NULL,
  masks           jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A mask made before showed the first 4 and last 4 characters of any secret of 12 or more: 8 of a
-- 12-character one. Its length is unknown now, so it keeps the last 4 only (never more than the rule
-- allows; a secret of 24 or more shows its first 4 again when it is next written).
UPDATE credential_secrets SET mask = '***' || right(mask, 4) WHERE mask ~ '^.{4}\*\*\*.{4}$';
UPDATE instance_admin_secrets SET mask = '***' || right(mask, 4) WHERE mask ~ '^.{4}\*\*\*.{4}$';
UPDATE webhook_endpoint_secrets SET mask = '***' || right(mask, 4) WHERE mask ~ '^.{4}\*\*\*.{4}$';
UPDATE inbound_source_secrets SET mask = '***' || right(mask, 4) WHERE mask ~ '^.{4}\*\*\*.{4}$';
