-- A key minted by another key records its minter, so revoking the minter revokes every key it
-- (and they) minted; and a key that shares its minter's use count names the key whose `remaining`
-- it spends, so minting or rotating a usage-limited key never adds uses. Expand only: nullable
-- columns the previous version ignores (its keys simply have no lineage).
ALTER TABLE api_keys ADD COLUMN parent_key_id text REFERENCES api_keys(id);
ALTER TABLE api_keys ADD COLUMN uses_key_id text REFERENCES api_keys(id);
CREATE INDEX api_keys_parent_idx ON api_keys (parent_key_id) WHERE parent_key_id IS NOT NULL;
