import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import type { MasterKeyRing } from '../../lib/envelope.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { isViolation } from '../../db/errors.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { KINDS, newSourceId, pickSecret, secretProblem, type InboundProvider } from './kinds.js';
import { secretMasks, sourceSecrets } from './secrets.js';
import type { HmacSettings, SourceSettings } from './verify.js';
import { sourceHealth } from './health.js';
import * as store from './store.js';

type Source = store.SourceRow;

export interface SourceInput {
  provider?: InboundProvider;
  name?: string;
  secret?: string;
  verify_token?: string;
  provider_workspace_id?: string | null;
  events?: string[] | null;
  hmac?: Partial<HmacSettings>;
  tolerance_s?: number | null;
  silent_after_s?: number | null;
  enabled?: boolean;
}

export function sourceView(s: Source, publicUrl: string, masks: Awaited<ReturnType<typeof secretMasks>>) {
  const kind = KINDS[s.provider as InboundProvider];
  const settings = s.settings as SourceSettings;
  return {
    id: s.id,
    workspace_id: s.workspace_id,
    provider: s.provider,
    name: s.name,
    url: `${publicUrl}/hooks/${s.id}`,
    scheme: kind.scheme,
    // Unsigned providers are authenticated by the URL (and a token at best): the UI says so.
    signed: kind.scheme !== 'unsigned',
    enabled: s.enabled,
    events: s.events,
    tolerance_s: settings.tolerance_s ?? null,
    hmac: settings.hmac ?? null,
    provider_workspace_id: settings.provider_workspace_id ?? null,
    silent_after_s: s.silent_after_s,
    secret: masks.secret,
    verify_token: masks.verify_token,
    previous_secret_expires_at: masks.previous_secret_expires_at,
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}
export type SourceView = ReturnType<typeof sourceView>;

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  tenancy: TenancyService;
  publicUrl: string;
  secretOverlapS: number;
  /** How long a source may be silent before it is reported, unless it sets its own. */
  silentAfterS: number;
  /** Called after a change commits: this process's receiver forgets the source at once (others hear the NOTIFY). */
  onChanged?: (sourceId: string) => void;
}

const isNameTaken = (err: unknown) => isViolation(err, 'unique');

function settingsOf(provider: InboundProvider, input: SourceInput, current: SourceSettings = {}): SourceSettings {
  const next: SourceSettings = { ...current };
  if (input.tolerance_s !== undefined) next.tolerance_s = input.tolerance_s ?? undefined;
  if (input.hmac !== undefined) {
    if (provider !== 'hmac') throw invalid('hmac settings apply to hmac sources only', { field: 'hmac' });
    next.hmac = { ...current.hmac, ...input.hmac };
  }
  if (input.provider_workspace_id !== undefined) next.provider_workspace_id = input.provider_workspace_id ?? undefined;
  if (provider === 'emailbison' && !next.provider_workspace_id) {
    throw invalid("provider_workspace_id is required for emailbison sources: Email Bison signs nothing, so each event's workspace id is checked against it", { field: 'provider_workspace_id' });
  }
  return JSON.parse(JSON.stringify(next)) as SourceSettings;
}

export function createSourceService({ db, ring, audit, tenancy, publicUrl, secretOverlapS, silentAfterS, onChanged = () => {} }: Deps) {
  async function locate(actor: Actor, id: string, trx: Executor = db): Promise<Source> {
    const row = await store.getSource(trx, id);
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('inbound source');
    return row;
  }
  /** A change to source `id` in one transaction; once committed, this process forgets its cached copy. */
  async function committed<T>(id: string, work: (trx: Executor) => Promise<T>): Promise<T> {
    const result = await db.transaction().execute(work);
    onChanged(id);
    return result;
  }
  const view = async (trx: Executor, row: Source) => sourceView(row, publicUrl, await secretMasks(trx, row.id));
  const auditOf = (row: Source, action: string) => ({ workspaceId: row.workspace_id, action, category: 'webhooks' as const, resource: { type: 'inbound_source', id: row.id } });

  function checkSecret(provider: InboundProvider, secret: string | undefined) {
    const kind = KINDS[provider];
    if (secret === undefined) {
      if (kind.secret === 'required') throw invalid(`secret is required for ${provider} sources: the ${kind.secretName}`, { field: 'secret' });
      return kind.secret === 'generated' ? { value: pickSecret(provider), generated: true } : null;
    }
    return givenSecret(provider, secret);
  }

  function givenSecret(provider: InboundProvider, secret: string) {
    const problem = secretProblem(provider, secret);
    if (problem) throw invalid(problem, { field: 'secret' });
    return { value: secret, generated: false };
  }

  return {
    locate,

    async create(actor: Actor, workspaceId: string, input: SourceInput & { provider: InboundProvider; name: string }) {
      await tenancy.requireWorkspace(actor, workspaceId);
      const { provider } = input;
      if (input.verify_token !== undefined && provider !== 'whatsapp') throw invalid('verify_token applies to whatsapp sources only', { field: 'verify_token' });
      const settings = settingsOf(provider, input);
      const secret = checkSecret(provider, input.secret);
      const verifyToken = provider === 'whatsapp' ? { value: input.verify_token ?? pickSecret(provider), generated: input.verify_token === undefined } : null;
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await store.insertSource(trx, workspaceId, {
            id: newSourceId(),
            provider,
            name: input.name,
            enabled: input.enabled ?? true,
            events: input.events ?? null,
            settings: JSON.stringify(settings),
            silent_after_s: input.silent_after_s ?? null,
          });
          if (secret) await sourceSecrets.put(trx, ring, row.id, 'signing', secret.value);
          if (verifyToken) await sourceSecrets.put(trx, ring, row.id, 'verify_token', verifyToken.value);
          const v = await view(trx, row);
          await audit.append(trx, actor, { ...auditOf(row, 'inbound_source.created'), after: v });
          return {
            ...v,
            // Shown this once, and only what Gatehouse picked: a secret the caller brought stays masked.
            ...(secret?.generated ? { secret: secret.value } : {}),
            ...(verifyToken?.generated ? { verify_token: verifyToken.value } : {}),
          };
        });
      } catch (err) {
        if (isNameTaken(err)) throw conflict(`an inbound source named "${input.name}" exists in this workspace`, { field: 'name' });
        throw err;
      }
    },

    async list(actor: Actor, workspaceId: string, page: PageRequest) {
      await tenancy.requireWorkspace(actor, workspaceId);
      const shown = toPage(await store.listSources(db, workspaceId, page), page, (r) => r);
      // What a list of sources is read for: when each last heard from its provider, and who failed to prove it was the provider.
      const stats = await store.sourceStats(db, workspaceId, shown.data.map((r) => r.id));
      const statsOf = new Map(stats.map((r) => [r.id, r]));
      const data = await Promise.all(shown.data.map(async (r) => ({
        ...(await view(db, r)),
        last_received_at: statsOf.get(r.id)?.last?.toISOString() ?? null,
        verification_failures_24h: statsOf.get(r.id)?.failures ?? 0,
      })));
      return { data, next_cursor: shown.next_cursor };
    },

    /** Last received, counts per day, refusals by reason, and whether it has gone silent. */
    async health(actor: Actor, id: string) {
      const s = await locate(actor, id);
      return sourceHealth(db, s.id, s.silent_after_s ?? silentAfterS);
    },

    async get(actor: Actor, id: string) {
      return view(db, await locate(actor, id));
    },

    async update(actor: Actor, id: string, input: SourceInput) {
      try {
        return await committed(id, async (trx) => {
          const before = await locate(actor, id, trx);
          const provider = before.provider as InboundProvider;
          const settings = settingsOf(provider, input, before.settings as SourceSettings);
          const row = await store.updateSource(trx, before.workspace_id, id, {
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
            ...(input.events !== undefined ? { events: input.events } : {}),
            ...(input.silent_after_s !== undefined ? { silent_after_s: input.silent_after_s } : {}),
            settings: JSON.stringify(settings),
            updated_at: new Date(),
          });
          if (input.verify_token !== undefined) {
            if (provider !== 'whatsapp') throw invalid('verify_token applies to whatsapp sources only', { field: 'verify_token' });
            await sourceSecrets.put(trx, ring, id, 'verify_token', input.verify_token);
          }
          await sourceSecrets.notifyChanged(trx, id);
          const after = await view(trx, row);
          await audit.append(trx, actor, { ...auditOf(row, 'inbound_source.updated'), before: await view(trx, before), after });
          return after;
        });
      } catch (err) {
        if (isNameTaken(err)) throw conflict(`an inbound source named "${input.name}" exists in this workspace`, { field: 'name' });
        throw err;
      }
    },

    async remove(actor: Actor, id: string) {
      await committed(id, async (trx) => {
        const before = await locate(actor, id, trx);
        const v = await view(trx, before);
        await store.deleteSource(trx, before.workspace_id, id);
        await sourceSecrets.notifyChanged(trx, id);
        await audit.append(trx, actor, { ...auditOf(before, 'inbound_source.deleted'), before: v });
      });
    },

    /** A new secret; the old one is still accepted for `overlap_s` (default 24 h) while the provider is switched over. */
    async rotate(actor: Actor, id: string, input: { secret?: string; overlap_s?: number }) {
      return committed(id, async (trx) => {
        const row = await locate(actor, id, trx);
        const provider = row.provider as InboundProvider;
        const kind = KINDS[provider];
        if (input.secret === undefined && kind.secret === 'required') {
          throw invalid(`give the new ${kind.secretName} as secret: for ${provider} sources the provider chooses it`, { field: 'secret' });
        }
        const secret = input.secret === undefined ? { value: pickSecret(provider), generated: true } : givenSecret(provider, input.secret);
        const overlapS = input.overlap_s ?? secretOverlapS;
        await sourceSecrets.retire(trx, id, overlapS > 0 ? new Date(Date.now() + overlapS * 1000) : null);
        await sourceSecrets.put(trx, ring, id, 'signing', secret.value);
        await sourceSecrets.notifyChanged(trx, id);
        const v = await view(trx, row);
        await audit.append(trx, actor, { ...auditOf(row, 'inbound_source.secret_rotated'), after: { previous_secret_expires_at: v.previous_secret_expires_at } });
        return { id, ...(secret.generated ? { secret: secret.value } : { secret: v.secret }), previous_secret_expires_at: v.previous_secret_expires_at };
      });
    },
  };
}
export type SourceService = ReturnType<typeof createSourceService>;
