import { sign } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { assertPublicUrl, guardedLookup } from '../../lib/ssrf.js';
import type { AuditKeys } from './signing-key.js';

const PUSH_TIMEOUT_MS = 10_000;
const USER_AGENT = 'Gatehouse-Audit/0.1';

/** A checkpoint as it leaves the database: the API's view, a line of the file sink, a webhook body. */
export interface CheckpointView {
  id: string;
  seq: number;
  hash: string;
  at: string;
  key_id: string;
  public_key: string;
  signature: string;
}

export interface SinkOptions {
  /** Appends each checkpoint as a JSON line. */
  file?: string;
  /** POSTs each checkpoint, signed (Standard Webhooks, asymmetric `v1a` with the checkpoint key). */
  url?: string;
  allowPrivateTargets: boolean;
  keys: AuditKeys;
  log: Logger;
}

/**
 * Copies of each checkpoint outside the database, so that whoever can rewrite the database cannot
 * also take back what was attested. A push that fails is logged and not retried: the next
 * checkpoint (within a minute while entries arrive) attests everything this one did.
 */
export function createCheckpointSinks(o: SinkOptions) {
  const agent = o.url ? new Agent({ connect: { lookup: guardedLookup(o.allowPrivateTargets) } }) : undefined;

  async function toFile(file: string, cp: CheckpointView) {
    await appendFile(file, `${JSON.stringify(cp)}\n`, { mode: 0o600 });
  }

  async function toUrl(target: string, cp: CheckpointView) {
    const url = new URL(target);
    // An IP literal is connected to without a lookup, so the connect-time guard cannot see it.
    assertPublicUrl(url, o.allowPrivateTargets, 'GATEHOUSE_AUDIT_CHECKPOINT_URL');
    const body = JSON.stringify(cp);
    const msgId = `ckp_${cp.id}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = sign(null, Buffer.from(`${msgId}.${timestamp}.${body}`), o.keys.signer.privateKey).toString('base64');
    const res = await request(url, {
      method: 'POST',
      body,
      dispatcher: agent,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': msgId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': `v1a,${signature}`,
      },
      headersTimeout: PUSH_TIMEOUT_MS,
      bodyTimeout: PUSH_TIMEOUT_MS,
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`the sink answered HTTP ${res.statusCode}`);
  }

  return {
    configured: Boolean(o.file || o.url),
    /** Pushes to every configured sink; never throws (the checkpoint row is already committed). */
    async push(cp: CheckpointView): Promise<void> {
      const pushes = [o.file && toFile(o.file, cp), o.url && toUrl(o.url, cp)].filter((p): p is Promise<void> => Boolean(p));
      const results = await Promise.allSettled(pushes);
      for (const r of results) {
        if (r.status === 'rejected') o.log.warn({ seq: cp.seq, err: (r.reason as Error).message }, 'could not push an audit checkpoint to its sink');
      }
    },
    async close() {
      await agent?.close();
    },
  };
}
export type CheckpointSinks = ReturnType<typeof createCheckpointSinks>;

/** The checkpoints a file sink holds, line by line; a line that is not one is named with its number. */
export async function* readCheckpointFile(path: string): AsyncGenerator<CheckpointView> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let cp: Partial<CheckpointView>;
    try {
      cp = JSON.parse(line);
    } catch {
      throw new Error(`${path} line ${n} is not JSON`);
    }
    const fields = ['hash', 'at', 'key_id', 'signature'] as const;
    if (!Number.isSafeInteger(cp.seq) || fields.some((f) => typeof cp[f] !== 'string')) throw new Error(`${path} line ${n} is not a checkpoint`);
    yield cp as CheckpointView;
  }
}
