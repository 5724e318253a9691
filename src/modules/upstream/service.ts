import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../../db/types.js';
import { systemActor, type Actor } from '../../http/actor.js';
import { pageRequest } from '../../lib/paging.js';
import type { HealthService } from '../health/service.js';
import { providerById } from '../providers/catalog.js';
import type { TenancyService } from '../tenancy/service.js';
import type { VaultService, WorkspaceCredential } from '../vault/service.js';
import * as calllog from './store.js';
import { createBreakers } from './breaker.js';
import { createUpstreamClient, type CallRecord, type Trigger, type UpstreamRequest, type UpstreamResult } from './client.js';

// A credential is broken when the provider refuses it or cannot serve it; a 404 on a wrong path is not
// its fault, and a 429 or 408 says nothing either way.
const verdictOf = (status: number | null): 'ok' | 'failed' | 'unknown' =>
  status === null || status === 401 || status === 403 || status >= 500 ? 'failed' : status === 429 || status === 408 ? 'unknown' : 'ok';

export type { CallRow } from './store.js';

/** Every active workspace's id, read page by page as the platform admin sees them. */
export async function activeWorkspaceIds(tenancy: TenancyService): Promise<Set<string>> {
  const active = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await tenancy.listWorkspaces(systemActor(), {}, pageRequest({ cursor, limit: 500 }));
    for (const w of page.data) if (w.status === 'active') active.add(w.id);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return active;
}

interface Deps {
  db: Kysely<DB>;
  vault: VaultService;
  tenancy: TenancyService;
  health: HealthService;
  timeoutMs: number;
  allowPrivateTargets: boolean;
  /** How long a failing provider target's calls fail fast before a trial call. */
  breakerResetMs: number;
  log: Logger;
}

/** What the call log keeps of a failure: why there was no answer, or the provider's own words. */
const MESSAGE_BYTES = 1024;

/**
 * A failed call's explanation: the transport error, or the provider's message (its error field, else
 * the start of its answer), cut to 1 KB with every secret of the credential replaced, since a
 * provider may echo what it was sent.
 */
function failureOf(credential: WorkspaceCredential, result: UpstreamResult): string | null {
  let text: string | null = result.error ?? null;
  if (!text && result.status !== null && result.status >= 400) {
    const said = credential.provider.errorMessage(result.status, result.body);
    const raw = said ?? (typeof result.body === 'string' ? result.body : result.body == null ? '' : JSON.stringify(result.body));
    text = raw.trim() || `HTTP ${result.status}`;
  }
  if (!text) return null;
  return Buffer.from(scrubbed(credential, text)).subarray(0, MESSAGE_BYTES).toString('utf8').replace(/\uFFFD$/, '');
}

/** The text with every secret of the credential replaced: what a caller or a provider echoed is not kept. */
function scrubbed(credential: WorkspaceCredential, text: string): string {
  let out = text;
  for (const secret of Object.values(credential.secrets)) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

export function createUpstreamService({ db, vault, tenancy, health, timeoutMs, allowPrivateTargets, breakerResetMs, log }: Deps) {
  function writeRecord(record: CallRecord) {
    const { credential, result } = record;
    const message = failureOf(credential, result);
    // The call log row and the health counters together: one statement on the usual path.
    return health.record(
      {
        workspaceId: credential.workspaceId,
        provider: credential.provider.id,
        verdict: verdictOf(result.status),
        error: result.status === null || result.status >= 400,
        statusCode: result.status,
        message,
      },
      // The caller's path only (a signed URL can carry secrets as query parameters: Vonage), scrubbed too.
      (qc) => calllog.insertCall(qc, record, { error: message, endpoint: scrubbed(credential, record.request.path.split('?')[0]).slice(0, 500) }),
    );
  }

  // A call is recorded just after its answer goes out, as API gateways do, not before: the write is
  // most of what Gatehouse adds to a call (~1 ms on the embedded database). `settled()` waits for
  // every record started so far; the read routes of this process await it (so a caller always
  // reads its own calls back) and so does shutdown (so a clean stop loses none).
  // Records are written one after another, in the order the calls were answered, so the call log's
  // order (by id) is the calls' order even on a pool of connections.
  const pending = new Set<Promise<void>>();
  let tail: Promise<void> = Promise.resolve();
  async function onCall(record: CallRecord) {
    const previous = tail;
    const written = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => previous)
      .then(() => writeRecord(record))
      .catch((err) =>
        log.error({ err: (err as Error).message, workspace_id: record.credential.workspaceId, provider: record.credential.provider.id }, 'could not record an upstream call'),
      )
      .finally(() => pending.delete(written));
    tail = written;
    pending.add(written);
  }
  async function settled() {
    while (pending.size > 0) await Promise.all([...pending]);
  }

  const client = createUpstreamClient({ timeoutMs, allowPrivateTargets, onCall, breakers: createBreakers({ resetMs: breakerResetMs, log }) });

  async function testCredential(credential: WorkspaceCredential, caller: string, trigger: Trigger) {
    const p = credential.provider;
    const result = await client.send(credential, { method: 'GET', path: p.test.path(credential) }, { caller, trigger });
    await settled(); // a test's verdict is in health before its answer goes out
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const detail =
      result.status === null
        ? `no answer: ${result.error}`
        : ok
          ? p.describeSuccess(result.body)
          : (p.errorMessage(result.status, result.body) ?? `HTTP ${result.status}`);
    return { ok, status_code: result.status, latency_ms: result.durationMs, detail };
  }

  return {
    client,

    async call(actor: Actor, workspaceId: string, providerId: string, req: UpstreamRequest, trigger?: Trigger) {
      const provider = providerById(providerId);
      const credential = await vault.resolveWorkspaceCredential(workspaceId, provider.id);
      // A signed-in person calls from the portal; a key, from a program.
      const result = await client.call(credential, req, { caller: actor.id, trigger: trigger ?? (actor.type === 'user' ? 'portal' : 'api') });
      return { status: result.status, headers: pickHeaders(result.headers), body: result.body, duration_ms: result.durationMs, attempts: result.attempts };
    },

    async test(actor: Actor, workspaceId: string, providerId: string) {
      const credential = await vault.resolveWorkspaceCredential(workspaceId, providerById(providerId).id);
      return testCredential(credential, actor.id, 'test');
    },

    /** Monitor job: tests every credential of every active workspace, one at a time. */
    async testAll(onResult?: (workspaceId: string, provider: string, ok: boolean) => void) {
      const active = await activeWorkspaceIds(tenancy);
      const rows = (await vault.credentialHolders()).filter((c) => active.has(c.workspace_id));
      let failed = 0;
      for (const r of rows) {
        try {
          const credential = await vault.resolveWorkspaceCredential(r.workspace_id, providerById(r.provider).id);
          const result = await testCredential(credential, 'job:credential-monitor', 'monitor');
          if (!result.ok) failed++;
          onResult?.(r.workspace_id, r.provider, result.ok);
        } catch {
          failed++;
          onResult?.(r.workspace_id, r.provider, false);
        }
      }
      return { tested: rows.length, failed };
    },

    settled,
    async listLogs(workspaceId: string, filter: calllog.CallLogFilter, limit: number) {
      await settled();
      return calllog.listCalls(db, workspaceId, filter, limit);
    },
    pruneLogs: (olderThan: Date, limit: number) => calllog.pruneCalls(db, olderThan, limit),
    async close() {
      await settled();
      await client.close();
    },
  };
}
export type UpstreamService = ReturnType<typeof createUpstreamService>;

// Hop-by-hop and cookie headers stay behind; the rest of the provider's answer is passed on.
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'set-cookie', 'content-length', 'content-encoding']);
const pickHeaders = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !DROP.has(k.toLowerCase())));
