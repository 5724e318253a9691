import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import type { Database } from '../../db/connect.js';
import { RESYNC } from '../../db/connect.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { MasterKeyRing } from '../../lib/envelope.js';
import { newId } from '../../lib/ids.js';
import { assertPublicUrl, guardedLookup } from '../../lib/ssrf.js';
import { maskHeaders } from './headers.js';
import type { WebhookMetrics } from './metrics.js';
import { DELIVERIES_CHANNEL, DELIVERIES_TABLE, type ClaimedDelivery, type DeliveryOffer } from './queue.js';
import { anyDeliveryDue, claimDeliveries } from './store-deliveries.js';
import type { QueueMetrics } from '../../queue/metrics.js';
import { createQueueRunner } from '../../queue/runner.js';
import { reclaimExpired } from '../../queue/table.js';
import { createAttemptRecorder } from './record.js';
import { retryDelayMs, verdictOf } from './retry.js';
import { createSecretReader, ENDPOINTS_CHANNEL } from './secrets.js';
import { signatureHeaders } from './signing.js';
import { inSpan, parentFrom, SpanKind, SpanStatusCode } from '../../lib/tracing.js';

const RESPONSE_BODY_LIMIT = 4096;
const USER_AGENT = 'Gatehouse-Webhooks/0.1';
const UNRECORDED_PER_SLOT = 4;
// Short beside a request's round trip, long beside the gap between events under load: a claim
// then takes the few events that arrived meanwhile rather than one (a claim costs a plan and a commit).
const BATCH_GAP_MS = 3;

export interface DeliveryWorkerOptions {
  database: Database;
  ring: MasterKeyRing;
  log: Logger;
  metrics: WebhookMetrics;
  queueMetrics?: QueueMetrics;
  concurrency: number;
  retryScheduleS: readonly number[];
  disableAfterS: number;
  allowPrivateTargets: boolean;
  pollMs?: number;
  /** How long a claim is held past the endpoint's timeout before another worker may retry it. */
  leaseMarginMs?: number;
  /**
   * After a claim that found fewer due deliveries than free slots, the next claim waits this long
   * (default BATCH_GAP_MS), so a steady stream is claimed in batches, not a claim per event.
   */
  batchGapMs?: number;
  /** Deliveries of one workspace this worker makes at once (default: a quarter of `concurrency`, at least 1). */
  workspaceMaxInFlight?: number;
  /** Reads Retry-After dates and sets retries' due times (default: the system's). */
  clock?: Clock;
}

/** The body every attempt of one message sends, byte for byte (signatures cover it). */
export const messageBody = (d: Pick<ClaimedDelivery, 'event_type' | 'event_payload' | 'event_created_at'>) =>
  JSON.stringify({ type: d.event_type, timestamp: new Date(d.event_created_at).toISOString(), data: d.event_payload });

/**
 * Delivers due webhook messages: claims with a lease (any number of these share the queue; a killed
 * one's deliveries come back when the lease ends), signs, POSTs with the endpoint's timeout through a
 * pooled undici agent that never follows redirects and refuses private addresses at connect time,
 * and records each attempt.
 */
export function createDeliveryWorker(o: DeliveryWorkerOptions) {
  const { database, log, metrics } = o;
  const workerId = `${hostname()}:${process.pid}:${newId('req').slice(-6)}`;
  const secrets = createSecretReader(database.db, o.ring);
  const recorder = createAttemptRecorder(database.db, workerId, o.disableAfterS);
  const leaseMarginMs = o.leaseMarginMs ?? 30_000;
  // No per-host connection cap below the worker's concurrency: a request queued inside the agent
  // would spend its endpoint timeout waiting for a socket and fail as a false timeout.
  // One policy for every workspace: test mode never opens private addresses (only the operator's
  // GATEHOUSE_ALLOW_PRIVATE_TARGETS does).
  const agent = new Agent({ connections: null, keepAliveTimeout: 10_000, connect: { lookup: guardedLookup(o.allowPrivateTargets) } });
  let stopListening: (() => Promise<void>) | undefined;
  const unrecorded = new Set<Promise<void>>();
  const maxUnrecorded = o.concurrency * UNRECORDED_PER_SLOT;
  // Slots held per workspace, counted here since this worker holds the leases: one workspace's
  // hanging endpoints fill its share of the slots, never all of them.
  // Beyond its share a workspace may use what is idle, up to half the worker and as long as a
  // share's worth of slots stays free for any workspace under its share: one tenant alone is not
  // held to a quarter of the worker, another's first delivery still finds a slot at once, and it
  // still takes three workspaces' hanging endpoints, not two, to fill a worker.
  const cap = o.workspaceMaxInFlight ?? Math.max(1, Math.floor(o.concurrency / 4));
  const shares = { cap, borrowCap: Math.max(cap, Math.floor(o.concurrency / 2)), held: new Map<string, number>() };
  // Deliveries answered but not yet recorded: no longer requests open to their endpoint.
  const answered = new Set<string>();
  const hold = (ws: string, by: number) => {
    const n = (shares.held.get(ws) ?? 0) + by;
    if (n > 0) shares.held.set(ws, n);
    else shares.held.delete(ws);
  };

  /** One attempt, traced as a client span in the trace of the request that accepted the event. */
  const attempt = (d: ClaimedDelivery) =>
    inSpan('gatehouse.webhook.attempt', {
      kind: SpanKind.CLIENT,
      parent: parentFrom(d.event_trace_parent),
      attributes: {
        'gatehouse.workspace_id': d.workspace_id, 'gatehouse.endpoint_id': d.endpoint_id, 'gatehouse.delivery_id': d.id,
        'gatehouse.event_id': d.event_id, 'gatehouse.attempt': d.attempts, 'http.request.method': 'POST', 'server.address': hostOf(d.url),
      },
    }, async (span) => {
      const r = await attemptOnce(d);
      span.setAttributes({ 'gatehouse.outcome': r.outcome, 'gatehouse.duration_ms': r.durationMs, ...(r.status === null ? {} : { 'http.response.status_code': r.status }) });
      if (r.outcome !== 'succeeded') span.setStatus({ code: SpanStatusCode.ERROR, message: r.error ?? r.outcome });
    });

  async function attemptOnce(d: ClaimedDelivery) {
    const body = messageBody(d);
    // Custom headers: any still in plain text from before they were sealed, then the sealed ones.
    const custom: Record<string, string> = { ...d.headers };
    const headers: Record<string, string> = { ...custom, 'content-type': 'application/json', 'user-agent': USER_AGENT };
    const started = performance.now();
    let status: number | null = null;
    let responseBody: string | null = null;
    let retryAfter: string | null = null;
    let error: string | null = null;
    try {
      // Secrets that cannot be opened (a master key removed too early) fail this attempt like a
      // network error: logged, retried, dead-lettered in the end, never sent unsigned.
      const keys = await secrets.read(d.endpoint_id).catch((err: Error) => {
        throw new Error(`the endpoint's secrets cannot be decrypted: ${err.message}`);
      });
      Object.assign(custom, keys.headers);
      Object.assign(headers, keys.headers, signatureHeaders(keys.signing, d.event_id, body), keys.authToken ? { authorization: `Bearer ${keys.authToken}` } : {});
      // An IP literal is connected to without a lookup, so the connect-time guard cannot see it; a
      // refused target is never connected to, so no answer of an internal service is ever recorded.
      assertPublicUrl(new URL(d.url), o.allowPrivateTargets);
      const res: Dispatcher.ResponseData = await request(d.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: agent,
        headersTimeout: d.timeout_s * 1000,
        bodyTimeout: d.timeout_s * 1000,
        signal: AbortSignal.timeout(d.timeout_s * 1000),
      });
      status = res.statusCode;
      const ra = res.headers['retry-after'];
      retryAfter = Array.isArray(ra) ? ra[0] : (ra ?? null);
      responseBody = await readCapped(res.body, RESPONSE_BODY_LIMIT);
    } catch (err) {
      error = describe(err, d.timeout_s);
    }
    const durationMs = Math.round(performance.now() - started);
    const now = (o.clock ?? systemClock).now();
    const verdict = verdictOf(status, retryAfter, now);
    const retriesLeft = d.attempts < d.max_attempts;
    const outcome = verdict.kind === 'succeeded' ? 'succeeded' : verdict.kind === 'retry' && retriesLeft ? 'retrying' : 'failed';
    const nextAttemptAt = outcome === 'retrying' ? new Date(now + retryDelayMs(o.retryScheduleS, d.attempts, verdict.kind === 'retry' ? verdict.retryAfterS : undefined)) : null;
    if (!error && status !== null && outcome !== 'succeeded') error = verdict.kind === 'refused' ? `HTTP ${status}: not retried (the receiver refused it)` : `HTTP ${status}`;
    answered.add(d.id);
    const recorded = recorder.record({
      deliveryId: d.id,
      workspaceId: d.workspace_id,
      endpointId: d.endpoint_id,
      eventId: d.event_id,
      attempt: d.attempts,
      url: d.url,
      requestHeaders: redactHeaders(headers, custom),
      status,
      responseBody,
      durationMs,
      error,
      outcome,
      nextAttemptAt,
      disable: verdict.kind === 'gone' ? 'the endpoint answered 410 Gone' : undefined,
    }).finally(() => answered.delete(d.id)).then((disabled) => {
      if (nextAttemptAt) loop.wakeAt(nextAttemptAt.getTime());
      metrics.deliveries.inc({ outcome });
      metrics.attemptDuration.observe({ outcome }, durationMs / 1000);
      if (disabled) log.warn({ endpoint_id: d.endpoint_id, reason: disabled }, 'webhook endpoint disabled');
    });
    await settleLater(recorded);
    return { outcome, status, durationMs, error };
  }

  /**
   * The request's slot is free once the receiver has answered: the attempt is recorded in the
   * background, in a batch with the others that finished meanwhile, so the number of requests in
   * flight and not the commit rate bounds throughput. The delivery stays leased until it is
   * recorded (it no longer takes one of its endpoint's max_in_flight slots: see `answered`); were
   * the process to die first, the lease expires and the message is sent again, as after a crash
   * mid-request. With more than
   * UNRECORDED_PER_SLOT unrecorded attempts a slot (a database that cannot keep up), a slot waits
   * for its own record again.
   */
  async function settleLater(recorded: Promise<void>) {
    const tracked = recorded.catch((err: Error) =>
      log.error({ err: err.message }, 'webhook attempt could not be recorded; its lease will expire and it will be sent again'),
    ).finally(() => {
      unrecorded.delete(tracked);
      // Its endpoint has a free place again: a claim that found the endpoint full may find work now.
      loop.nudge();
    });
    unrecorded.add(tracked);
    if (unrecorded.size > maxUnrecorded) await tracked;
  }

  // One claim or one hand-off at a time: each statement counts what this worker holds (by workspace)
  // and what is open to each endpoint from what it knew when it started, so two at once could each
  // take the last slot. A claim passed over while a hand-off is written runs once it is taken.
  let taking: 'none' | 'claim' | 'hand-off' = 'none';
  let claimWaits = false;
  const loop = createQueueRunner({
    name: 'deliveries',
    database,
    log,
    metrics: o.queueMetrics,
    channel: DELIVERIES_CHANNEL,
    concurrency: o.concurrency,
    minBatch: Math.max(1, Math.floor(o.concurrency / 4)),
    batchGapMs: o.batchGapMs ?? BATCH_GAP_MS,
    pollMs: o.pollMs,
    reclaim: () => reclaimExpired(database.db, DELIVERIES_TABLE),
    probe: () => anyDeliveryDue(database.db),
    claim: async (free) => {
      if (taking !== 'none') {
        claimWaits = true;
        return [];
      }
      taking = 'claim';
      try {
        const claimed = await claimDeliveries(database.db, workerId, free, leaseMarginMs, { workspaces: shares, answered });
        for (const d of claimed) hold(d.workspace_id, 1);
        return claimed;
      } finally {
        taking = 'none';
      }
    },
    run: (d) => attempt(d).finally(() => hold(d.workspace_id, -1)),
  });

  /**
   * Lends this worker's idle slots to the accepting side for one write (see HandOff), keeping a
   * share's worth free for claims; null when there is nothing to lend.
   */
  const offer: DeliveryOffer = () => {
    if (taking !== 'none') return null;
    const slots = loop.reserve(Infinity, shares.cap);
    if (slots === 0) return null;
    taking = 'hand-off';
    return {
      handOff: { workerId, slots, cap: shares.borrowCap, held: Object.fromEntries(shares.held), leaseMarginMs, answered: [...answered] },
      take(leased) {
        taking = 'none';
        for (const d of leased) hold(d.workspace_id, 1);
        loop.adopt(leased, slots);
        // A claim passed over meanwhile runs now.
        if (claimWaits) {
          claimWaits = false;
          loop.nudge();
        }
      },
    };
  };

  return {
    id: workerId,
    offer,
    /** Resolves once a claim begun after this call has ended (see the claim loop). */
    claimedSince: loop.claimedSince,
    async start() {
      stopListening = await database.listen(ENDPOINTS_CHANNEL, (id) => secrets.evict(id === RESYNC ? '*' : id));
      await loop.start();
    },
    async stop() {
      await loop.stop();
      await Promise.all([...unrecorded]);
      await stopListening?.();
      await agent.close();
    },
  };
}
export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;

/** The receiver's host alone: a URL's path or query may carry a token. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return 'invalid';
  }
}

/**
 * The signature is a credential for this one message, the bearer token a standing one, and custom
 * header values are masked as in every endpoint view.
 */
function redactHeaders(h: Record<string, string>, custom: Record<string, string>): Record<string, string> {
  const out = { ...h, ...maskHeaders(custom) };
  if (out['webhook-signature']) out['webhook-signature'] = '[redacted]';
  if (out.authorization) out.authorization = 'Bearer [redacted]';
  return out;
}

async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function describe(err: unknown, timeoutS: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return `timed out after ${timeoutS} s`;
  const code = e.code ?? e.cause?.code;
  if (code === 'EPRIVATETARGET') return e.message ?? e.cause?.message ?? 'refused: private address';
  return `${code ? `${code}: ` : ''}${e.cause?.message ?? e.message ?? String(err)}`.slice(0, 500);
}
