import type { Kysely } from 'kysely';
import { RESYNC, type Database } from '../../db/connect.js';
import type { DB, Executor } from '../../db/types.js';
import { requirePlatformAdmin, type Actor } from '../../http/actor.js';
import { AppError, conflict, invalid, notFound } from '../../lib/errors.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { newId } from '../../lib/ids.js';
import type { AuditService } from '../audit/service.js';
import { providerById } from '../providers/catalog.js';
import type { InstanceService } from '../providers/instances.js';
import type { CredentialMaterial, ProviderDef, ProviderId } from '../providers/types.js';
import { sealedColumns } from './sealed.js';
import * as store from './store.js';

declare const workspaceScoped: unique symbol;
declare const instanceAdmin: unique symbol;

/** A credential that may act for exactly one workspace. Only `resolveWorkspaceCredential` makes one. */
export interface WorkspaceCredential extends CredentialMaterial {
  readonly [workspaceScoped]: true;
  readonly workspaceId: string;
  readonly credentialId: string;
  readonly provider: ProviderDef;
  readonly keySuffix: string;
  /** The provider instance the credential belongs to (Email Bison), if any. */
  readonly instanceId: string | null;
}

/**
 * An instance's super-admin credential, for admin tasks only (minting a workspace's token). Its
 * brand differs from WorkspaceCredential's, so the compiler refuses it wherever a workspace call is made.
 */
export interface InstanceAdminCredential {
  readonly [instanceAdmin]: true;
  readonly instanceId: string;
  readonly baseUrl: string;
  readonly apiKey: string;
}

export const CREDENTIALS_CHANNEL = 'gatehouse_credentials';

// The binding is built from where the secret is being used, never read back from the row, so a
// ciphertext moved to another workspace's row is decrypted under that row's binding and fails.
export const workspaceBinding = (workspaceId: string, provider: string, field: string) => `ws:${workspaceId}|${provider}|${field}`;
export const adminBinding = (instanceId: string, provider: string) => `instance:${instanceId}|${provider}|api_key`;

/** The credentials' sealed columns, for `vault rewrap` and the restore check. */
export const credentialSealedColumns = (db: Kysely<DB>) =>
  sealedColumns(db, store.CREDENTIAL_SECRETS, (r) => workspaceBinding(r.workspace_id ?? '', r.provider ?? '', r.field ?? ''));

export type CredentialInput = Record<string, string | undefined>;

export interface Prepared {
  workspaceId: string;
  provider: ProviderDef;
  existing: Awaited<ReturnType<typeof store.getCredential>>;
  fields: Record<string, string>;
  secrets: Array<{ field: string; value: string }>;
  instanceId: string | null;
}

interface Deps {
  db: Kysely<DB>;
  database: Database;
  ring: MasterKeyRing;
  audit: AuditService;
  instances: InstanceService;
  cacheMs: number;
}

export function createVaultService({ db, database, ring, audit, instances, cacheMs }: Deps) {
  const cache = new Map<string, { value: WorkspaceCredential; until: number }>();
  const forget = (workspaceId: string, provider: string) => cache.delete(`${workspaceId}|${provider}`);

  async function maskedView(workspaceId: string, credentialId: string) {
    const row = await store.getCredentialById(db, workspaceId, credentialId);
    const secrets = await store.secretsOf(db, workspaceId, credentialId);
    const instance = row.instance_id ? await instances.find(row.instance_id) : null;
    return {
      id: row.id,
      workspace_id: row.workspace_id,
      provider: row.provider,
      name: row.name,
      instance: instance ? { id: instance.id, name: instance.name } : null,
      fields: row.fields,
      secrets: Object.fromEntries(secrets.map((s) => [s.field, { set: true, mask: s.mask }])),
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }

  // Every process drops its decrypted copy when the credential changes anywhere.
  const notifyChanged = (trx: Executor, workspaceId: string, provider: string) => store.notifyCredentialChanged(trx, CREDENTIALS_CHANNEL, `${workspaceId}|${provider}`);

  /**
   * One workspace per provider account: another workspace holding the same identity (a team, an
   * account SID) on the same instance is refused on every write path. Only the platform admin is
   * told which workspace holds it: to anyone else it is another tenant's.
   */
  async function requireOwnIdentity(exec: Executor, actor: Actor | undefined, p: Prepared) {
    const field = p.provider.identityField;
    const value = field ? p.fields[field] : undefined;
    if (!field || !value) return;
    const holder = await store.otherHolderOfField(exec, p.workspaceId, p.provider.id, p.instanceId, field, value);
    if (!holder) return;
    const named = actor?.platformAdmin === true;
    throw conflict(
      named ? `workspace ${holder.workspace_id} already holds this ${p.provider.name} ${field}` : `another workspace already holds this ${p.provider.name} ${field}`,
      { reason: 'identity_taken', field, ...(named ? { workspace_id: holder.workspace_id } : {}) },
    );
  }

  /** Checks an input against the provider's fields and the stored credential; writes nothing. */
  async function prepare(exec: Executor, workspaceId: string, providerId: string, input: CredentialInput): Promise<Prepared> {
    const provider = providerById(providerId);
    const known = new Set(provider.fields.map((f) => f.name));
    const unknown = Object.keys(input).filter((k) => !known.has(k));
    if (unknown.length) throw invalid(`fields not used by ${provider.name}`, { unknown_fields: unknown });
    const existing = await store.getCredential(exec, workspaceId, provider.id);
    const existingSecrets = existing ? new Set((await store.secretsOf(exec, workspaceId, existing.id)).map((s) => s.field)) : new Set<string>();
    const fields: Record<string, string> = {};
    const secrets: Array<{ field: string; value: string }> = [];
    const missing: string[] = [];
    for (const f of provider.fields) {
      const value = input[f.name]?.trim();
      if (f.secret) {
        if (value) secrets.push({ field: f.name, value });
        else if (f.required && !existingSecrets.has(f.name)) missing.push(f.name);
      } else {
        const v = value || existing?.fields[f.name];
        if (v) fields[f.name] = v;
        else if (f.required) missing.push(f.name);
        // A base URL the tenant gives is where Gatehouse will send the credential: a public address only.
        if (value && f.url) await instances.checkBaseUrl(value, f.name);
      }
      if (f.options && fields[f.name] && !f.options.includes(fields[f.name])) {
        throw invalid(`${f.name} must be one of ${f.options.join(', ')}`, { field: f.name });
      }
    }
    if (missing.length) throw invalid(`${provider.name} needs ${missing.join(', ')}`, { missing_fields: missing });
    let instanceId: string | null = null;
    if (provider.usesInstance) {
      const instance = await instances.find(fields.instance, exec);
      if (instance.provider !== provider.id) throw invalid(`instance ${instance.name} is not a ${provider.name} instance`);
      instanceId = instance.id;
      fields.instance = instance.id;
    }
    // Secrets are write-only: a credential sent somewhere new (its base URL, its instance) with the
    // stored secrets would hand them to whoever runs that server. A new destination takes them again.
    if (existing) {
      const where = (f: (typeof provider.fields)[number], v: Record<string, string>) => v[f.name] ?? f.default;
      const moved = provider.fields.some((f) => (f.url || f.name === 'instance') && where(f, fields) !== where(f, existing.fields));
      const kept = provider.fields.filter((f) => f.secret && existingSecrets.has(f.name) && !secrets.some((s) => s.field === f.name)).map((f) => f.name);
      if (moved && kept.length) {
        throw invalid(`${provider.name} would be called somewhere new: give ${kept.join(', ')} again`, { reason: 'destination_changed', missing_fields: kept });
      }
    }
    return { workspaceId, provider, existing, fields, secrets, instanceId };
  }

  /** Writes a prepared credential, its sealed secrets, the NOTIFY and the audit entry in the caller's transaction. */
  async function write(trx: Executor, actor: Actor, p: Prepared, name?: string) {
    const field = p.provider.identityField;
    if (field && p.fields[field]) {
      // Checked again under a lock: two writes racing for one account, or two rows of one import.
      await store.lockIdentity(trx, `${p.provider.id}|${p.instanceId ?? ''}|${p.fields[field]}`);
      await requireOwnIdentity(trx, actor, p);
    }
    const row = await store.upsertCredential(trx, p.workspaceId, {
      id: p.existing?.id ?? newId('cred'),
      provider: p.provider.id,
      instance_id: p.instanceId,
      name: name ?? p.existing?.name ?? null,
      fields: p.fields,
      created_by: actor.id,
    });
    for (const { field, value } of p.secrets) {
      const sealed = encryptSecret(ring, value, workspaceBinding(p.workspaceId, p.provider.id, field));
      await store.putSecret(trx, row.id, field, { ...sealed, mask: maskSecret(value) });
    }
    await notifyChanged(trx, p.workspaceId, p.provider.id);
    await audit.append(trx, actor, {
      workspaceId: p.workspaceId,
      action: p.existing ? 'credential.updated' : 'credential.created',
      category: 'credentials',
      severity: 'warning',
      resource: { type: 'credential', id: row.id },
      before: p.existing ? { provider: p.provider.id, fields: p.existing.fields } : null,
      // Only the names of the secrets that changed: never values, never masks.
      after: { provider: p.provider.id, fields: p.fields, changed_secret_fields: p.secrets.map((x) => x.field) },
    });
    return row;
  }

  return {
    async start() {
      return database.listen(CREDENTIALS_CHANNEL, (payload) => (payload === RESYNC ? cache.clear() : cache.delete(payload)));
    },

    /** Checks an input against the provider's fields and the stored credential; writes nothing. */
    /** Also refuses an account another workspace holds, so an import reports it on its row (write checks again, locked). */
    async prepare(workspaceId: string, providerId: string, input: CredentialInput, actor?: Actor) {
      const p = await prepare(db, workspaceId, providerId, input);
      await requireOwnIdentity(db, actor, p);
      return p;
    },

    /** Writes prepared credentials in one transaction, all or none (a bulk import), then drops cached copies. */
    async writeAll(actor: Actor, items: ReadonlyArray<{ p: Prepared; name?: string }>, onWritten?: (index: number) => void) {
      await db.transaction().execute(async (trx) => {
        for (const [i, item] of items.entries()) {
          await write(trx, actor, item.p, item.name);
          onWritten?.(i);
        }
      });
      for (const item of items) forget(item.p.workspaceId, item.p.provider.id);
    },

    /**
     * Creates or updates a workspace's credential for one provider. A secret field left blank keeps
     * the stored value; every field is checked against the provider's catalog entry.
     */
    async putCredential(actor: Actor, workspaceId: string, providerId: string, input: CredentialInput, name?: string) {
      const row = await db.transaction().execute(async (trx) => write(trx, actor, await prepare(trx, workspaceId, providerId, input), name));
      forget(workspaceId, row.provider);
      return maskedView(workspaceId, row.id);
    },

    /** Forgets cached decrypted copies after a bulk write (the NOTIFYs reach the other processes). */
    forget,

    async listCredentials(workspaceId: string) {
      const rows = await store.listCredentials(db, workspaceId);
      return Promise.all(rows.map((r) => maskedView(workspaceId, r.id)));
    },

    async deleteCredential(actor: Actor, workspaceId: string, providerId: string) {
      const provider = providerById(providerId);
      await db.transaction().execute(async (trx) => {
        const removed = await store.deleteCredential(trx, workspaceId, provider.id);
        if (!removed) throw notFound('credential');
        await notifyChanged(trx, workspaceId, provider.id);
        await audit.append(trx, actor, {
          workspaceId,
          action: 'credential.deleted',
          category: 'credentials',
          severity: 'warning',
          resource: { type: 'credential', id: removed.id },
          before: { provider: provider.id, fields: removed.fields },
        });
      });
      forget(workspaceId, provider.id);
    },

    /**
     * The only way to a workspace credential: this workspace's own row, or a loud 422. There is no
     * fallback to any other workspace's key or to an instance's admin key.
     */
    async resolveWorkspaceCredential(workspaceId: string, providerId: ProviderId): Promise<WorkspaceCredential> {
      const cacheKey = `${workspaceId}|${providerId}`;
      const hit = cache.get(cacheKey);
      if (hit && hit.until > Date.now()) return hit.value;
      const provider = providerById(providerId);
      const row = await store.getCredential(db, workspaceId, provider.id);
      if (!row) {
        throw new AppError('credential_missing', `workspace ${workspaceId} has no ${provider.name} credential; add one with PUT /v1/workspaces/${workspaceId}/credentials/${provider.id}`, {
          workspace_id: workspaceId,
          provider: provider.id,
        });
      }
      const sealed = await store.secretsOf(db, workspaceId, row.id);
      const secrets: Record<string, string> = {};
      try {
        for (const s of sealed) secrets[s.field] = decryptSecret(ring, s, workspaceBinding(workspaceId, provider.id, s.field));
      } catch (err) {
        throw new AppError('credential_invalid', `the stored ${provider.name} credential of workspace ${workspaceId} cannot be decrypted: ${(err as Error).message}`, {
          workspace_id: workspaceId,
          provider: provider.id,
        });
      }
      const instance = row.instance_id ? await instances.find(row.instance_id) : null;
      const key = secrets[provider.keyField] ?? '';
      const value = {
        workspaceId,
        credentialId: row.id,
        provider,
        fields: row.fields,
        secrets,
        instanceBaseUrl: instance?.base_url,
        instanceId: instance?.id ?? null,
        keySuffix: key.slice(-4),
      } as WorkspaceCredential;
      if (cacheMs > 0) cache.set(cacheKey, { value, until: Date.now() + cacheMs });
      return value;
    },

    /** The instances the credentials of these workspaces use. */
    instancesUsedBy: (workspaceIds: readonly string[]) => store.instancesUsedBy(db, workspaceIds),

    /** Which workspace holds each credential (of one provider, or of all); no fields, no secrets. */
    credentialHolders: (provider?: ProviderId) => store.credentialHolders(db, provider),

    /** The other workspace whose credential for `provider` on `instanceId` already has `field` = `value`, if any. */
    async otherHolderOfField(workspaceId: string, provider: ProviderId, instanceId: string | null, field: string, value: string) {
      return (await store.otherHolderOfField(db, workspaceId, provider, instanceId, field, value))?.workspace_id;
    },

    async putInstanceAdminCredential(actor: Actor, instanceIdOrName: string, apiKey: string) {
      requirePlatformAdmin(actor);
      const instance = await instances.find(instanceIdOrName);
      const sealed = encryptSecret(ring, apiKey, adminBinding(instance.id, instance.provider));
      await db.transaction().execute(async (trx) => {
        await instances.putAdminSecret(trx, instance.id, { ...sealed, mask: maskSecret(apiKey) });
        await audit.append(trx, actor, {
          workspaceId: null,
          action: 'instance.admin_credential_set',
          category: 'credentials',
          severity: 'critical',
          resource: { type: 'provider_instance', id: instance.id },
        });
      });
      return { instance_id: instance.id, admin_credential: { set: true, mask: maskSecret(apiKey) } };
    },

    /** For admin tasks only (see InstanceAdminCredential). */
    async resolveInstanceAdminCredential(instanceId: string): Promise<InstanceAdminCredential> {
      const instance = await instances.find(instanceId);
      const sealed = await instances.adminSecret(instance.id);
      if (!sealed) {
        throw new AppError('credential_missing', `instance ${instance.name} has no admin credential; set one with PUT /v1/instances/${instance.id}/admin-credential`, {
          instance_id: instance.id,
        });
      }
      let apiKey: string;
      try {
        apiKey = decryptSecret(ring, sealed, adminBinding(instance.id, instance.provider));
      } catch (err) {
        // Same answer as for a workspace credential that will not open: a 422 naming it, not a 500.
        throw new AppError('credential_invalid', `the admin credential of instance ${instance.name} cannot be decrypted: ${(err as Error).message}`, {
          instance_id: instance.id,
        });
      }
      return { instanceId: instance.id, baseUrl: instance.base_url, apiKey } as InstanceAdminCredential;
    },
  };
}
export type VaultService = ReturnType<typeof createVaultService>;
