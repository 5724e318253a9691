import type { Kysely, Selectable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { requirePlatformAdmin, visibleWorkspaceIds, type Actor } from '../../http/actor.js';
import type { Sealed } from '../../lib/envelope.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import { assertPublicTarget } from '../../lib/ssrf.js';
import type { AuditService } from '../audit/service.js';
import { providerById } from './catalog.js';
import * as store from './store.js';

export type Instance = Selectable<DB['provider_instances']>;

export const instanceView = (i: Instance, admin?: { mask: string } | null) => ({
  id: i.id,
  provider: i.provider,
  name: i.name,
  base_url: i.base_url,
  admin_credential: admin ? { set: true, mask: admin.mask } : { set: false },
  created_at: i.created_at.toISOString(),
});

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  allowPrivateTargets: boolean;
  /** The instances the credentials of these workspaces use (the vault's answer: its credentials name them). */
  instancesUsedBy: (workspaceIds: readonly string[]) => Promise<string[]>;
}

/** Self-hosted deployments of one provider (two agencies' Email Bison), each with its own base URL. */
export function createInstanceService({ db, audit, allowPrivateTargets, instancesUsedBy }: Deps) {
  /**
   * A provider base URL (an instance's, or a credential's base_url field) as it will be called: http(s)
   * and a public address, its name resolved now (each call checks again at connect time).
   */
  async function checkBaseUrl(raw: string, field = 'base_url') {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid(`${field} is not a valid URL`, { field });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`${field} must be http(s)`, { field });
    if (url.username || url.password) throw invalid(`${field} must not hold credentials`, { field });
    await assertPublicTarget(url, { allowPrivate: allowPrivateTargets, field });
  }

  async function find(idOrName: string, trx: Executor = db): Promise<Instance> {
    const row = await store.findInstance(trx, idOrName);
    if (!row) throw notFound('provider instance');
    return row;
  }

  return {
    find,
    checkBaseUrl,
    async create(actor: Actor, input: { provider: string; name: string; base_url: string }) {
      requirePlatformAdmin(actor);
      const provider = providerById(input.provider);
      if (!provider.usesInstance) throw invalid(`${provider.name} has no instances; its base URL is fixed or set per credential`);
      await checkBaseUrl(input.base_url);
      return db.transaction().execute(async (trx) => {
        if (await store.instanceNamed(trx, input.name)) throw conflict('an instance with this name exists');
        const row = await store.insertInstance(trx, { id: newId('inst'), provider: provider.id, name: input.name, base_url: input.base_url.replace(/\/+$/, '') });
        await audit.append(trx, actor, {
          workspaceId: null,
          action: 'instance.created',
          category: 'credentials',
          resource: { type: 'provider_instance', id: row.id },
          after: instanceView(row),
        });
        return instanceView(row);
      });
    },
    /**
     * The platform admin sees every instance with its admin credential's mask; a tenant sees only the
     * instances its workspaces' credentials use, and of the admin credential only whether it is set.
     */
    async list(actor: Actor, page: PageRequest) {
      const only = visibleWorkspaceIds(actor);
      const rows = await store.listInstances(db, page, only === undefined ? undefined : only.length === 0 ? [] : await instancesUsedBy(only));
      return toPage(rows, page, (r) => {
        const view = instanceView(r, r.mask ? { mask: r.mask } : null);
        return only === undefined ? view : { ...view, admin_credential: { set: view.admin_credential.set } };
      });
    },

    /** Seals are the vault's work; the sealed admin credential is kept with its instance. */
    putAdminSecret: (trx: Executor, instanceId: string, sealed: Sealed & { mask: string }) => store.putAdminSecret(trx, instanceId, sealed),
    adminSecret: (instanceId: string) => store.getAdminSecret(db, instanceId),
  };
}
export type InstanceService = ReturnType<typeof createInstanceService>;
