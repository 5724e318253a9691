import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Actor } from '../../http/actor.js';
import type { AuditService } from '../audit/service.js';

/** One refused authentication, as the summary keeps it. */
export interface Failure {
  reason: string;
  route: string;
  /** A known key that was refused (revoked, wrong scope…): its workspace sees the summary. */
  workspaceId?: string | null;
  keyId?: string;
  /** The refusal also answered 429 because the address had failed too often. */
  limited?: boolean;
}

interface Bucket {
  actor: Actor;
  workspaceId: string | null;
  keyId?: string;
  count: number;
  limited: number;
  reasons: Record<string, number>;
  routes: Record<string, number>;
  firstAt: string;
  lastAt: string;
}

// Bounds on what one minute may hold in memory: beyond them, failures still count, in a catch-all.
const MAX_SOURCES = 10_000;
const MAX_ROUTES = 20;
const OVERFLOW = '*';

/**
 * Failed authentications are noise an anonymous caller can make at will: each goes to a metric,
 * and to one audit entry per source address (and known key) per minute with its count, instead of
 * one chained entry per request.
 */
export function createFailureSummary({ audit, log, registry, flushEveryMs = 60_000 }: { audit: AuditService; log: Logger; registry: Registry; flushEveryMs?: number }) {
  const counter = new Counter({
    name: 'gatehouse_auth_failures_total',
    help: 'Refused authentications (API keys, sessions and sign-ins) by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  let buckets = new Map<string, Bucket>();

  function note(actor: Actor, failure: Failure) {
    counter.inc({ reason: failure.reason });
    const now = new Date().toISOString();
    let id = `${actor.ip ?? ''}\n${failure.workspaceId ?? ''}\n${failure.keyId ?? ''}`;
    let bucket = buckets.get(id);
    if (!bucket && buckets.size >= MAX_SOURCES) {
      id = OVERFLOW;
      bucket = buckets.get(id);
      actor = { ...actor, ip: null };
      failure = { ...failure, workspaceId: null, keyId: undefined };
    }
    if (!bucket) {
      bucket = { actor, workspaceId: failure.workspaceId ?? null, keyId: failure.keyId, count: 0, limited: 0, reasons: {}, routes: {}, firstAt: now, lastAt: now };
      buckets.set(id, bucket);
    }
    bucket.count++;
    if (failure.limited) bucket.limited++;
    bucket.reasons[failure.reason] = (bucket.reasons[failure.reason] ?? 0) + 1;
    const route = failure.route in bucket.routes || Object.keys(bucket.routes).length < MAX_ROUTES ? failure.route : OVERFLOW;
    bucket.routes[route] = (bucket.routes[route] ?? 0) + 1;
    bucket.lastAt = now;
    // The latest request stands for the source: its user agent and request id.
    bucket.actor = { ...bucket.actor, userAgent: actor.userAgent, requestId: actor.requestId };
  }

  /** Writes one entry per source seen since the last flush. */
  async function flush() {
    const pending = [...buckets.values()];
    buckets = new Map();
    for (const b of pending) {
      try {
        await audit.record(b.actor, {
          workspaceId: b.workspaceId,
          action: 'auth.failed',
          category: 'auth',
          severity: 'warning',
          outcome: 'failure',
          resource: b.keyId ? { type: 'api_key', id: b.keyId } : undefined,
          // Lists, not objects keyed by reason or route: audit drops fields whose names look secret ("…authorization", "/api-keys").
          after: {
            count: b.count, limited: b.limited, first_at: b.firstAt, last_at: b.lastAt,
            reasons: Object.entries(b.reasons).map(([reason, count]) => ({ reason, count })),
            routes: Object.entries(b.routes).map(([route, count]) => ({ route, count })),
          },
        });
      } catch (err) {
        // The metric has them; a summary lost to a database outage is not worth a retry loop.
        log.warn({ err, failures: b.count }, 'could not write the summary of failed authentications');
      }
    }
  }

  let timer: NodeJS.Timeout | undefined = setInterval(() => void flush(), flushEveryMs);
  timer.unref();

  return {
    note,
    flush,
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}
export type FailureSummary = ReturnType<typeof createFailureSummary>;
