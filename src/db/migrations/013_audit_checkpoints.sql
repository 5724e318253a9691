-- Signed checkpoints of the audit chain (the signing key lives outside the database), and gapless
-- entry numbering from here on, so a deleted entry shows as a missing seq.

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Each row attests, signed with Ed25519, that the chain's entry `seq` had `hash` at time `at`.
CREATE TABLE audit_checkpoints (
  id          bigserial PRIMARY KEY,
  seq         bigint NOT NULL,
  hash        text NOT NULL,
  at          timestamptz NOT NULL,
  key_id      text NOT NULL,
  public_key  text NOT NULL,
  signature   text NOT NULL
);
CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (seq);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Until now seq came from a sequence, which skips a value whenever an appending transaction rolls
-- back. From here on an entry's seq is the previous one's + 1 (taken under the chain lock), so a
-- gap after this mark means a deleted entry; gaps at or below it are the sequence's.
CREATE TABLE audit_seq_origin (gapless_after bigint NOT NULL);
INSERT INTO audit_seq_origin (gapless_after) SELECT coalesce(max(seq), 0) FROM audit_log;
CREATE TRIGGER audit_seq_origin_append_only BEFORE UPDATE OR DELETE ON audit_seq_origin
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_seq_origin_no_truncate BEFORE TRUNCATE ON audit_seq_origin
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
