-- Expand only: a finished job can keep what it produced (e.g. a bulk token generation's per-workspace outcome).
ALTER TABLE jobs ADD COLUMN result jsonb;
