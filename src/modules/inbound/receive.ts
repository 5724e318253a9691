import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Database } from '../../db/connect.js';
import { RESYNC } from '../../db/connect.js';
import type { DB } from '../../db/types.js';
import type { MasterKeyRing } from '../../lib/envelope.js';
import { AppError, invalid, notFound } from '../../lib/errors.js';
import { createGroupCommit, groupCommitWriters } from '../../lib/group-commit.js';
import { newId } from '../../lib/ids.js';
import { KINDS, SOURCE_ID, type InboundProvider } from './kinds.js';
import { readJsonPayload, readsJson } from './normalize.js';
import { storedHeader } from '../../lib/stored-header.js';
import { openSourceSecrets, SOURCES_CHANNEL, type OpenedSecrets } from './secrets.js';
import { metaHandshake, verify, type InboundRequest, type SourceSettings } from './verify.js';
import { getSource, type SourceRow as Source } from './store.js';
import { insertReceived, insertRejection, notifyWorkers, type Received } from './store-queue.js';

interface Entry {
  source: Source | null;
  secrets: OpenedSecrets | null;
}

// Kept with the event: what tells where it came from and how to read it. Never a signature,
// token or cookie.
const KEPT_HEADERS = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'i-twilio-idempotency-token', 'x-twilio-webhook-retry-count',
  'x-forwarded-for', 'x-request-id', 'x-timestamp', 'x-home-region'];
// Anyone who knows a source's address can make it store what they send (a rejection row per
// request): header values are cut as the audit log and sessions cut them.

export interface ReceiverOptions {
  database: Database;
  ring: MasterKeyRing;
  log: Logger;
  registry: Registry;
  publicUrl: string;
  bodyLimit: number;
  toleranceS: number;
  cacheMs?: number;
}

/**
 * The receiving path. A source and its opened secrets are kept in memory (a change anywhere evicts
 * them through NOTIFY); an unknown id is remembered too, so probing ids costs what a known source's
 * bad signature costs. The event is one INSERT that is also its processing job: 2xx means committed.
 */
export async function createReceiver(o: ReceiverOptions) {
  const { db } = o.database;
  const cacheMs = o.cacheMs ?? 30_000;
  const cache = new LRUCache<string, Entry>({ max: 10_000, ttl: cacheMs });
  const stopListening = await o.database.listen(SOURCES_CHANNEL, (id) => (id === RESYNC ? cache.clear() : cache.delete(id)));
  const received = new Counter({ name: 'gatehouse_inbound_received_total', help: 'Inbound webhooks accepted, by provider and whether it was a repeat', labelNames: ['provider', 'duplicate'], registers: [o.registry] });
  const rejected = new Counter({ name: 'gatehouse_inbound_rejected_total', help: 'Inbound webhooks refused by verification, by provider and reason', labelNames: ['provider', 'reason'], registers: [o.registry] });
  const wake = createWaker(db, o.log);
  // Concurrent requests share one INSERT (group commit): each still answers only after its row is committed.
  const store = createGroupCommit((rows: Received[]) => insertReceived(db, rows), { isolateFailures: true, writers: groupCommitWriters(o.database.kind) });

  async function lookup(id: string): Promise<Entry> {
    const hit = cache.get(id);
    if (hit) return hit;
    const source = (await getSource(db, id)) ?? null;
    const secrets = source ? await openSourceSecrets(db, o.ring, id) : null;
    const entry = { source, secrets };
    cache.set(id, entry, { ttl: Math.max(1, Math.min(cacheMs, (secrets?.validUntil ?? Infinity) - Date.now())) });
    return entry;
  }

  async function sourceFor(id: string) {
    if (!SOURCE_ID.test(id)) throw notFound('inbound source');
    const entry = await lookup(id);
    if (!entry.source) throw notFound('inbound source');
    if (!entry.source.enabled) throw new AppError('forbidden', 'this inbound source is disabled');
    return entry as { source: Source; secrets: OpenedSecrets };
  }

  async function receive(req: FastifyRequest<{ Params: { source_id: string } }>, reply: FastifyReply) {
    const { source, secrets } = await sourceFor(req.params.source_id);
    const provider = source.provider as InboundProvider;
    const kind = KINDS[provider];
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (kind.contentTypes && !kind.contentTypes.includes(contentType)) {
      throw new AppError('unsupported_media_type', `${provider} sources accept ${kind.contentTypes.join(' or ')}`, { content_type: contentType || null });
    }
    const request: InboundRequest = { url: req.url, headers: req.headers, body, contentType };
    const settings = source.settings as SourceSettings;
    let verdict = await verify(kind.scheme, request, { secrets: secrets.signing, settings, publicUrl: o.publicUrl, defaultToleranceS: o.toleranceS });
    let parsed: unknown;
    if (readsJson(provider, contentType)) {
      // Processing reads the body as JSON whatever its declared type, so the limits hold for all
      // of them here: a body past them is never stored, rather than failing every processing.
      const read = readJsonPayload(body);
      if (read.ok) parsed = read.value;
      else if (verdict.ok && read.problem) throw invalid(read.problem.message, { reason: read.problem.reason, path: read.problem.path });
      else if (verdict.ok && contentType === 'application/json') throw invalid('the body is not valid JSON');
    }
    if (verdict.ok && provider === 'emailbison' && String((parsed as { event?: { workspace_id?: unknown } })?.event?.workspace_id) !== settings.provider_workspace_id) {
      verdict = { ok: false, reason: 'workspace_mismatch' };
    }
    if (!verdict.ok) {
      rejected.inc({ provider, reason: verdict.reason });
      await insertRejection(db, source.workspace_id, { source_id: source.id, reason: verdict.reason, source_ip: req.ip, user_agent: storedHeader(req.headers['user-agent']) });
      throw new AppError('unauthenticated', `the request did not verify as coming from ${provider} (${verdict.reason})`, { reason: verdict.reason });
    }
    const headers = Object.fromEntries(KEPT_HEADERS.filter((h) => typeof req.headers[h] === 'string').map((h) => [h, storedHeader(req.headers[h])]));
    const { id, duplicate } = await store({
      id: newId('iev'), workspaceId: source.workspace_id, sourceId: source.id, dedupKey: verdict.dedupKey, signature: verdict.signature,
      contentType: contentType || null, headers: JSON.stringify(headers), ip: req.ip, userAgent: storedHeader(req.headers['user-agent']), body,
    });
    if (!duplicate) wake();
    received.inc({ provider, duplicate: String(duplicate) });
    reply.header('x-gatehouse-inbound-event', id);
    // Twilio reads the answer as TwiML: an empty <Response/> means "nothing to do".
    if (provider === 'twilio') return reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    return reply.send({ id, duplicate });
  }

  async function handshake(req: FastifyRequest<{ Params: { source_id: string } }>, reply: FastifyReply) {
    const { source, secrets } = await sourceFor(req.params.source_id);
    if (source.provider !== 'whatsapp') throw notFound('inbound source');
    const challenge = metaHandshake(new URL(req.url, 'http://x').searchParams, secrets.verifyToken);
    if (challenge === null) throw new AppError('forbidden', 'the verify token does not match, or hub.mode is not subscribe');
    return reply.type('text/plain').send(challenge);
  }

  return {
    routes(bodyLimit = o.bodyLimit) {
      return async (app: FastifyInstance) => {
        // The raw bytes, whatever the content type: signatures are over them, and they are stored as sent.
        app.removeAllContentTypeParsers();
        app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, payload, done) => done(null, payload));
        const params = { type: 'object', properties: { source_id: { type: 'string' } }, required: ['source_id'] } as const;
        const tags = ['inbound'];
        // A provider's answer is a few bytes: compression's per-request hooks would cost the receiving rate for nothing.
        app.post('/hooks/:source_id', { compress: false, schema: { tags, params, summary: "A provider's webhook: verified, stored once, 200 after the commit (no API key: the source id is the address)" } as never }, receive);
        app.get('/hooks/:source_id', { compress: false, schema: { tags, params, summary: "Meta's subscription handshake (WhatsApp sources): hub.mode, hub.verify_token, hub.challenge" } as never }, handshake);
      };
    },
    /** Forget a source now (this process changed it; the NOTIFY reaches the others). */
    evict: (id: string) => void cache.delete(id),
    close: stopListening,
  };
}
export type Receiver = Awaited<ReturnType<typeof createReceiver>>;

/**
 * Wakes the processing workers (this process's too): at once when they were last woken a while
 * ago, else once at the end of the interval, so a burst costs a few NOTIFYs, not one per event, and
 * the workers find it in batches. Outside the receiving statement: a NOTIFY in every commit would
 * serialise the commits.
 */
function createWaker(db: Kysely<DB>, log: Logger, everyMs = 200) {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const notify = () => {
    last = Date.now();
    timer = undefined;
    notifyWorkers(db).catch((err) => log.warn({ err: (err as Error).message }, 'could not notify the inbound workers; they find the work on their next poll'));
  };
  return () => {
    if (timer) return;
    const wait = last + everyMs - Date.now();
    if (wait <= 0) notify();
    else timer = setTimeout(notify, wait).unref();
  };
}
