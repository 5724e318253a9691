import { Webhook } from 'standardwebhooks';
import { sleep } from '../helpers/processes.js';
import type { Cluster } from './cluster.js';

/** The event types sent, and which receivers subscribe to each. */
export const typeOf = (i: number) => (i % 50 === 0 ? 'meeting.booked' : i % 8 === 1 ? 'email.sent' : 'lead.created');

export interface Accepted {
  type: string;
  /** When the caller got its 2xx (ms). */
  at: number;
}

export interface CallResult {
  status: number;
  body: any;
}

/**
 * One client call with a timeout. A killed process, a refused connection or a timeout come back as
 * status 0: the caller cannot know whether the request was committed, so it retries.
 */
export async function callApi(base: string, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const raw = await res.text();
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = raw;
    }
    return { status: res.status, body: parsed };
  } catch {
    return { status: 0, body: undefined };
  }
}

/** Statuses after which a careful client tries again (same idempotency key or message id). */
const retryable = (status: number) => status === 0 || status === 429 || status >= 500;

export interface LoadStats {
  sent: number;
  accepted: Map<string, Accepted>;
  /** Answers that were neither 2xx nor worth a retry: each one is a defect. */
  refused: Array<{ i: number; status: number; body: unknown }>;
  retries: number;
}

/**
 * Sends `total` events at `ratePerS` over every API process, `concurrency` at a time, each with its
 * own idempotency key; a failed attempt is retried on the next process until it is answered.
 */
export async function sendEvents(o: { cluster: Cluster; key: string; workspaceId: string; total: number; ratePerS: number; concurrency: number; runId: string; stats: LoadStats }) {
  const started = Date.now();
  let next = 0;
  const sender = async () => {
    for (let i = next++; i < o.total; i = next++) {
      await sleep(Math.max(0, started + (i * 1000) / o.ratePerS - Date.now()));
      const type = typeOf(i);
      for (let attempt = 0; ; attempt++) {
        const api = o.cluster.apis[(i + attempt) % o.cluster.apis.length];
        const res = await callApi(api.url, 'POST', `/v1/workspaces/${o.workspaceId}/events`, o.key, { type, payload: { i }, idempotency_key: `${o.runId}-${i}` });
        if (res.status === 202) {
          o.stats.accepted.set(res.body.event_id, { type, at: Date.now() });
          break;
        }
        if (!retryable(res.status)) {
          o.stats.refused.push({ i, status: res.status, body: res.body });
          break;
        }
        o.stats.retries++;
        await sleep(200);
      }
      o.stats.sent++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, sender));
}

/**
 * Posts `total` Standard-Webhooks-signed inbound events to a source, spread over the API processes;
 * a failed post is signed again and retried with the same message id until it is answered 200.
 */
export async function sendInbound(o: { cluster: Cluster; sourceId: string; secret: string; total: number; ratePerS: number; runId: string }) {
  const accepted = new Set<string>();
  const refused: Array<{ n: number; status: number; body: unknown }> = [];
  const started = Date.now();
  const signer = new Webhook(o.secret);
  for (let n = 0; n < o.total; n++) {
    await sleep(Math.max(0, started + (n * 1000) / o.ratePerS - Date.now()));
    const msgId = `msg_${o.runId}_${n}`;
    const body = JSON.stringify({ type: 'chaos.inbound', data: { n } });
    for (let attempt = 0; ; attempt++) {
      const api = o.cluster.apis[(n + attempt) % o.cluster.apis.length];
      const now = new Date();
      const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signer.sign(msgId, now, body) };
      const res = await callApi(api.url, 'POST', `/hooks/${o.sourceId}`, '', body, headers);
      if (res.status === 200) {
        accepted.add(msgId);
        break;
      }
      if (!retryable(res.status)) {
        refused.push({ n, status: res.status, body: res.body });
        break;
      }
      await sleep(200);
    }
  }
  return { accepted, refused };
}
