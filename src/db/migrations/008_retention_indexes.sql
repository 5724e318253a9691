-- Retention: each prune batch takes the oldest expired rows through one of these indexes, so it
-- reads about the rows it deletes instead of scanning the table (see src/jobs/retention.ts).
-- Expand only. A plain CREATE INDEX holds off writes to its table while it builds: a few seconds
-- per million rows, once, at upgrade.
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (finished_at) WHERE status IN ('done', 'failed');
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished_idx ON webhook_deliveries (finished_at) WHERE status IN ('succeeded', 'dead');
-- Deleting an event cascades to its deliveries, and the prune keeps an event a delivery still refers
-- to: both look deliveries up by event, which without this index scans them all for every event.
CREATE INDEX IF NOT EXISTS webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX IF NOT EXISTS events_created_idx ON events (created_at);
CREATE INDEX IF NOT EXISTS inbound_events_finished_idx ON inbound_events (received_at) WHERE status IN ('processed', 'ignored', 'failed');
CREATE INDEX IF NOT EXISTS inbound_rejections_received_idx ON inbound_rejections (received_at);
