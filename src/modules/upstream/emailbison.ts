import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { requirePlatformAdmin, type Actor } from '../../http/actor.js';
import { AppError, conflict, invalid } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { get, str } from '../providers/types.js';
import type { InstanceService } from '../providers/instances.js';
import type { TenancyService } from '../tenancy/service.js';
import type { VaultService } from '../vault/service.js';
import type { Trigger } from './client.js';
import { activeWorkspaceIds, type UpstreamService } from './service.js';
import * as store from './store.js';

const MAX_PAGES = 10_000;

/** The page number a Laravel `links.next` URL points at; null at the end. */
export function nextPage(next: unknown, current: number): number | null {
  if (typeof next !== 'string' || !next) return null;
  let page: number;
  try {
    page = Number(new URL(next, 'http://x').searchParams.get('page'));
  } catch {
    return null;
  }
  // A next link that does not move forward would loop for ever.
  return Number.isInteger(page) && page > current ? page : null;
}

/** The token string in a token-creation response, whose shape is unconfirmed: anything like `ID|secret` in `data`. */
export function findToken(body: unknown): string | undefined {
  const data = get(body, 'data') ?? body;
  for (const k of ['plain_text_token', 'plainTextToken', 'token', 'api_token', 'key']) {
    const v = str(get(data, k));
    if (v) return v;
  }
  const seen: unknown[] = [data];
  while (seen.length) {
    const v = seen.pop();
    if (typeof v === 'string' && /^\d+\|\S{8,}$/.test(v)) return v;
    if (v && typeof v === 'object') seen.push(...Object.values(v));
  }
  return undefined;
}

interface Deps {
  db: Kysely<DB>;
  vault: VaultService;
  upstream: UpstreamService;
  instances: InstanceService;
  tenancy: TenancyService;
}

export function createEmailBisonService({ db, vault, upstream, instances, tenancy }: Deps) {
  return {
    /**
     * Fetches every page of sender emails with the workspace's own token, de-duplicating by id (Email
     * Bison repeats an account across pages when one is inserted mid-scan), stores them, and marks the
     * run `mismatch` when the unique count disagrees with the provider's own total.
     */
    async syncSenderEmails(actor: Actor, workspaceId: string, trigger: Trigger = 'api') {
      const credential = await vault.resolveWorkspaceCredential(workspaceId, 'emailbison');
      const runId = newId('sync');
      await store.insertSyncRun(db, workspaceId, { id: runId, provider: 'emailbison', kind: 'sender-emails' });
      const accounts = new Map<string, Record<string, unknown>>();
      let fetched = 0;
      let pages = 0;
      let providerTotal: number | null = null;
      let page: number | null = 1;
      try {
        while (page !== null && pages < MAX_PAGES) {
          const res = await upstream.client.call(credential, { method: 'GET', path: '/sender-emails', query: { page } }, { caller: actor.id, trigger: trigger === 'api' ? 'sync' : trigger });
          if (res.status !== 200) {
            const why = credential.provider.errorMessage(res.status, res.body) ?? `HTTP ${res.status}`;
            throw new AppError('upstream_failed', `Email Bison refused page ${page}: ${why}`, { status_code: res.status, page });
          }
          const items = get(res.body, 'data');
          if (!Array.isArray(items)) throw new AppError('upstream_failed', `Email Bison page ${page} has no data array`);
          pages++;
          fetched += items.length;
          for (const item of items) {
            const id = get(item, 'id');
            if (id !== undefined && id !== null) accounts.set(String(id), item as Record<string, unknown>);
          }
          const total = get(res.body, 'meta', 'total');
          if (typeof total === 'number') providerTotal = total;
          page = nextPage(get(res.body, 'links', 'next'), page);
        }
      } catch (err) {
        await store.failSyncRun(db, workspaceId, runId, (err as Error).message.slice(0, 500), { fetched, pages });
        throw err;
      }
      const unique = accounts.size;
      const status = providerTotal !== null && providerTotal !== unique ? 'mismatch' : 'ok';
      const rows = [...accounts].map(([id, a]) => ({ provider_id: id, email: String(a.email ?? ''), name: str(a.name) ?? null, status: str(a.status) ?? null, data: JSON.stringify(a) }));
      await db.transaction().execute(async (trx) => {
        await store.replaceSenderEmails(trx, workspaceId, rows);
        await store.finishSyncRun(trx, workspaceId, runId, { status, fetched, unique_count: unique, provider_total: providerTotal, duplicates: fetched - unique, pages });
      });
      return { run_id: runId, fetched, unique, provider_total: providerTotal, duplicates: fetched - unique, pages, status };
    },

    /**
     * Mints the workspace's own api-user token on the provider with the instance's super-admin token
     * (the only thing that token is ever used for) and stores it as the workspace's credential.
     */
    async generateToken(actor: Actor, workspaceId: string, input: { instance?: string; provider_workspace_id?: string; name?: string }) {
      // The caller picks the provider team, and the super-admin token can mint for any team: a
      // workspace's own key could otherwise obtain a token to another tenant's Email Bison workspace.
      requirePlatformAdmin(actor);
      const existing = (await vault.listCredentials(workspaceId)).find((c) => c.provider === 'emailbison');
      const instanceRef = input.instance ?? existing?.instance?.id;
      const providerWorkspaceId = input.provider_workspace_id ?? existing?.fields.provider_workspace_id;
      if (!instanceRef || !providerWorkspaceId) {
        throw invalid('instance and provider_workspace_id are needed (in the body, or from the stored credential)', { missing_fields: [!instanceRef && 'instance', !providerWorkspaceId && 'provider_workspace_id'].filter(Boolean) });
      }
      if (!/^\d+$/.test(providerWorkspaceId)) throw invalid('provider_workspace_id is the numeric team id on the instance', { field: 'provider_workspace_id' });
      const instance = await instances.find(instanceRef);
      // One provider team belongs to one Gatehouse workspace: minting its token into a second would let
      // that workspace read the first one's data.
      const holder = await vault.otherHolderOfField(workspaceId, 'emailbison', instance.id, 'provider_workspace_id', providerWorkspaceId);
      if (holder) throw conflict(`team ${providerWorkspaceId} on ${instance.name} already belongs to workspace ${holder}`, { workspace_id: holder });
      const admin = await vault.resolveInstanceAdminCredential(instance.id);
      const res = await upstream.client.raw({
        method: 'POST',
        url: new URL(`${admin.baseUrl}/workspaces/v1.1/${providerWorkspaceId}/api-tokens`),
        headers: { authorization: `Bearer ${admin.apiKey}`, accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'gatehouse' },
        body: JSON.stringify({ name: input.name ?? `gatehouse ${workspaceId}` }),
      });
      if (res.status >= 400) {
        const why = str(get(res.body, 'message')) ?? `HTTP ${res.status}`;
        throw new AppError('upstream_failed', `Email Bison refused to create the token: ${why}`, { status_code: res.status });
      }
      const token = findToken(res.body);
      if (!token) throw new AppError('upstream_failed', 'Email Bison answered without a token the response could be read for');
      return vault.putCredential(actor, workspaceId, 'emailbison', { instance: instance.id, provider_workspace_id: providerWorkspaceId, api_key: token });
    },

    /**
     * Mints tokens for many workspaces, `batchSize` at a time with `delayMs` between batches so an
     * instance's undocumented rate limits are not hammered; one workspace's failure does not stop the rest.
     */
    async generateTokens(actor: Actor, items: Array<{ workspace_id: string; provider_workspace_id: string }>, opts: { instance: string; batchSize: number; delayMs: number; signal?: AbortSignal }) {
      const results: Array<{ workspace_id: string; ok: boolean; error?: string }> = [];
      for (let i = 0; i < items.length; i += opts.batchSize) {
        if (i > 0) await new Promise((r) => setTimeout(r, opts.delayMs));
        // Its job's lease was lost (another worker may be running it): no further batch from here.
        opts.signal?.throwIfAborted();
        const batch = items.slice(i, i + opts.batchSize);
        const outcomes = await Promise.allSettled(
          batch.map((item) => this.generateToken(actor, item.workspace_id, { instance: opts.instance, provider_workspace_id: item.provider_workspace_id })),
        );
        outcomes.forEach((o, j) =>
          results.push(o.status === 'fulfilled' ? { workspace_id: batch[j].workspace_id, ok: true } : { workspace_id: batch[j].workspace_id, ok: false, error: (o.reason as Error).message }),
        );
      }
      return { total: items.length, generated: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, results };
    },

    /** Workspaces with an Email Bison credential, for the scheduled sync. */
    async workspacesToSync() {
      const active = await activeWorkspaceIds(tenancy);
      return (await vault.credentialHolders('emailbison')).map((c) => c.workspace_id).filter((id) => active.has(id));
    },

    senderEmailCount: (workspaceId: string) => store.countSenderEmails(db, workspaceId),
  };
}
export type EmailBisonService = ReturnType<typeof createEmailBisonService>;
