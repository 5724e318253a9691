// The rows the retention test (test/system/retention.test.ts) and benchmark (bench/retention.mjs)
// load: call log rows, webhook events with their deliveries and attempts, inbound events and
// refusals, shaped and sized like real ones, written by `INSERT … SELECT generate_series` (a
// million rows load in seconds). Plain JavaScript so the benchmark can use it without a build.

/** Of `rows`: the call log's share, the delivery attempts' (3 per delivery, 1 delivery per event) and the inbound events'. */
const SHARES = { calls: 0.4, attempts: 0.3, inbound: 0.3 };
const ATTEMPTS_PER_DELIVERY = 3;
/** Refusals per inbound event received. */
const REFUSALS = 0.03;

const literal = (s) => `'${String(s).replace(/'/g, "''")}'`;
const seedId = (prefix, i) => `'${prefix}_seed' || lpad(${i}::text, 21, '0')`; // as long as a real prefixed ULID

/**
 * The age of row `i` of `n` in time order (oldest first): the first `expiredShare` spread over the
 * 60 days past retention (a day past it at least), the rest over the days inside it (a day short of it at most).
 */
function createdAt(i, n, expiredShare, retentionDays) {
  const expired = Math.round(n * expiredShare);
  const days = `case when ${i} <= ${expired} then ${retentionDays + 1} + 60.0 * (${expired} - ${i}) / ${Math.max(expired, 1)}
    else ${retentionDays - 1} * (${n} - ${i})::float8 / ${Math.max(n - expired, 1)} end`;
  return `now() - make_interval(secs => (${days}) * 86400)`;
}

/**
 * The statements loading about `rows` rows (see SHARES) into one workspace, with an inbound source and
 * a webhook endpoint of its own. One row in a hundred of the deliveries and inbound events still waits
 * (pending, whatever its age): retention must keep those. Ends with ANALYZE, as autovacuum would.
 */
export function retentionRowsSql({ workspaceId, sourceId, endpointId, rows, expiredShare = 0.9, retention }) {
  const ws = literal(workspaceId);
  const calls = Math.round(rows * SHARES.calls);
  const deliveries = Math.round((rows * SHARES.attempts) / ATTEMPTS_PER_DELIVERY);
  const inbound = Math.round(rows * SHARES.inbound);
  const refusals = Math.round(inbound * REFUSALS);
  const callAt = createdAt('i', calls, expiredShare, retention.callLog);
  const eventAt = createdAt('i', deliveries, expiredShare, retention.webhooks);
  const inboundAt = createdAt('i', inbound, expiredShare, retention.inbound);
  const refusalAt = createdAt('i', refusals, expiredShare, retention.inbound);
  const waiting = 'i % 100 = 0';
  return [
    `insert into upstream_calls (workspace_id, provider, credential_id, method, endpoint, status_code, ok, duration_ms, attempts, key_suffix, caller, trigger, error, created_at)
     select ${ws}, 'emailbison', ${seedId('cred', 0)}, case when i % 4 = 0 then 'POST' else 'GET' end, '/api/leads/' || i,
       case when i % 20 = 0 then 500 else 200 end, i % 20 <> 0, 40 + i % 400, 1, 'x7Qa', ${seedId('key', 0)}, 'api',
       case when i % 20 = 0 then 'upstream answered 500 Internal Server Error' end, ${callAt}
     from generate_series(1, ${calls}) i`,
    `insert into events (id, workspace_id, type, payload, created_at)
     select ${seedId('msg', 'i')}, ${ws}, 'lead.created', jsonb_build_object('lead_id', i, 'email', 'lead' || i || '@example.com',
       'first_name', 'Ada', 'last_name', 'Lovelace', 'company', 'Analytical Engines Ltd', 'campaign_id', 1000 + i % 50, 'tags', jsonb_build_array('warm', 'q3')), ${eventAt}
     from generate_series(1, ${deliveries}) i`,
    // Succeeded mostly, a few dead; the waiting ones are due a month from now, so no worker takes them.
    `insert into webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, attempts, max_attempts, next_attempt_at, last_status, created_at, finished_at)
     select ${seedId('dlv', 'i')}, ${ws}, ${literal(endpointId)}, ${seedId('msg', 'i')},
       case when ${waiting} then 'pending' when i % 100 = 50 then 'dead' else 'succeeded' end, ${ATTEMPTS_PER_DELIVERY}, 9,
       case when ${waiting} then now() + interval '30 days' else t end, case when i % 100 = 50 then 503 else 200 end, t,
       case when ${waiting} then null else t + interval '3 minutes' end
     from (select i, ${eventAt} as t from generate_series(1, ${deliveries}) i) s`,
    `insert into webhook_attempts (delivery_id, endpoint_id, workspace_id, attempt, worker_id, url, request_headers, response_status, response_body, duration_ms, outcome, created_at)
     select ${seedId('dlv', 'i')}, ${literal(endpointId)}, ${ws}, a, 'gatehouse-1:4242:q8x2mz', 'https://hooks.example.com/gatehouse/leads',
       jsonb_build_object('content-type', 'application/json', 'user-agent', 'Gatehouse-Webhooks/0.1', 'webhook-id', ${seedId('msg', 'i')},
         'webhook-timestamp', '1735689600', 'webhook-signature', '[redacted]'),
       case when a < ${ATTEMPTS_PER_DELIVERY} then 503 else 200 end, case when a < ${ATTEMPTS_PER_DELIVERY} then 'Service Unavailable' else '{"ok":true}' end,
       60 + (i * a) % 300, case when a < ${ATTEMPTS_PER_DELIVERY} then 'retrying' else 'succeeded' end, t + a * interval '1 minute'
     from (select i, ${eventAt} as t from generate_series(1, ${deliveries}) i) s, generate_series(1, ${ATTEMPTS_PER_DELIVERY}) a`,
    `insert into inbound_events (id, workspace_id, source_id, dedup_key, status, signature, provider_type, event_types, published, content_type,
       headers, source_ip, user_agent, body, attempts, next_attempt_at, received_at, processed_at)
     select ${seedId('iev', 'i')}, ${ws}, ${literal(sourceId)}, 'id:msg_' || i, case when ${waiting} then 'pending' else 'processed' end, 'verified',
       'lead.created', array['lead.created'], case when ${waiting} then null else array[${seedId('msg', 'i')}] end, 'application/json',
       jsonb_build_object('content-type', 'application/json', 'user-agent', 'Svix-Webhooks/1.24', 'webhook-id', 'msg_' || i,
         'webhook-timestamp', '1735689600', 'webhook-signature', '[redacted]'),
       '203.0.113.7', 'Svix-Webhooks/1.24',
       convert_to(json_build_object('type', 'lead.created', 'timestamp', t, 'data', json_build_object('lead_id', i, 'email', 'lead' || i || '@example.com',
         'first_name', 'Ada', 'last_name', 'Lovelace', 'company', 'Analytical Engines Ltd', 'campaign', 'Q3 outreach', 'step', 1 + i % 5,
         'notes', repeat('n', 160)))::text, 'UTF8'),
       case when ${waiting} then 0 else 1 end, case when ${waiting} then now() + interval '30 days' else t end, t,
       case when ${waiting} then null else t + interval '1 second' end
     from (select i, ${inboundAt} as t from generate_series(1, ${inbound}) i) s`,
    `insert into inbound_rejections (workspace_id, source_id, reason, source_ip, user_agent, received_at)
     select ${ws}, ${literal(sourceId)}, 'signature_mismatch', '198.51.100.9', 'curl/8.5.0', ${refusalAt}
     from generate_series(1, ${refusals}) i`,
    'analyze upstream_calls, events, webhook_deliveries, webhook_attempts, inbound_events, inbound_rejections',
  ];
}
