-- The W3C traceparent of the request that accepted an event, so a delivery attempt made later by
-- any worker joins the same trace. Expand only: a nullable column the previous version ignores.
ALTER TABLE events ADD COLUMN trace_parent text;
