import type { Kysely } from 'kysely';
import type { ApiKeyRow, DB, Executor } from '../../db/types.js';
import { canSeeWorkspace, requirePlatformAdmin, requireWithinHeld, systemActor, type Actor } from '../../http/actor.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { AppError, conflict, invalid, notFound, present } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import type { AuditService } from '../audit/service.js';
import type { KeyCache } from './cache.js';
import { limitsUnder, type KeyLimits } from './ceiling.js';
import { displayStart, generateKey, hashKey, type KeyEnvironment } from './format.js';
import { isKnownScope, parseAllowList } from './scopes.js';
import * as store from './store.js';

export interface CreateKeyInput {
  name: string;
  scopes: string[];
  environment?: KeyEnvironment;
  expires_at?: string;
  rate_limit?: { limit: number; window_s: number };
  remaining?: number;
  ip_allowlist?: string[];
}

/** What a key minted by a key carries of its minter: the limits under the minter's, and its lineage. */
interface Lineage extends KeyLimits {
  remaining: number | null;
  parent_key_id: string | null;
  uses_key_id: string | null;
}

export type KeyStatus = 'active' | 'rotating' | 'expired' | 'revoked';

export function keyStatus(row: ApiKeyRow, now: number): KeyStatus {
  if (row.revoked_at) return row.revoked_reason === 'expired' ? 'expired' : 'revoked';
  if (row.expires_at && row.expires_at.getTime() <= now) return 'expired';
  if (row.revoke_at) return row.revoke_at.getTime() <= now ? 'revoked' : 'rotating';
  return 'active';
}

/** The public view of a key at `now`: never the hash, never the key. */
export function keyView(row: ApiKeyRow, now: number) {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    start: row.start,
    environment: row.environment,
    scopes: row.scopes,
    status: keyStatus(row, now),
    platform_admin: row.platform_admin,
    expires_at: row.expires_at?.toISOString() ?? null,
    remaining: row.remaining,
    rate_limit: row.rate_limit && row.rate_window_s !== null ? { limit: row.rate_limit, window_s: row.rate_window_s } : null,
    ip_allowlist: row.ip_allowlist,
    created_at: row.created_at.toISOString(),
    created_by: row.created_by,
    revoke_at: row.revoke_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    replaced_by: row.replaced_by,
    parent_key_id: row.parent_key_id,
    shares_uses_of: row.uses_key_id,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    last_used_ip: row.last_used_ip,
  };
}

const MAX_GRACE_S = 30 * 86400;
export const DEFAULT_GRACE_S = 86400;

interface Deps {
  db: Kysely<DB>;
  cache: KeyCache;
  audit: AuditService;
  clock?: Clock;
}

export function createApiKeyService({ db, cache, audit, clock = systemClock }: Deps) {
  const view = (row: ApiKeyRow) => keyView(row, clock.now());
  // A key can hand out only what it holds itself, or a narrow key could mint a `*` key, by
  // creating one or by rotating a wider key and taking the successor. A person holds their role in
  // the key's workspace: admin elsewhere must not let a manager here mint a `*` key.
  function requireGrantable(actor: Actor, scopes: readonly string[], workspaceId: string | null) {
    requireWithinHeld(actor, workspaceId, scopes, 'a key cannot grant scopes it does not hold');
  }

  /** The key an actor authenticated with, locked: a mint then serializes with the minter's revocation. */
  async function minterOf(trx: Executor, actor: Actor, workspaceId: string | null, lock = true): Promise<ApiKeyRow | undefined> {
    if (actor.type !== 'key' || actor.platformAdmin) return undefined;
    const minter = await store.getKey(trx, workspaceId, actor.id, lock);
    const status = minter && keyStatus(minter, clock.now());
    if (!minter || status === 'revoked' || status === 'expired') {
      throw new AppError('unauthenticated', 'the API key has been revoked', { reason: 'revoked' });
    }
    return minter;
  }

  const beyondMinter = (beyond: Record<string, string>) => {
    if (Object.keys(beyond).length) {
      throw new AppError('forbidden', 'a key cannot be looser than the key that mints it', { reason: 'beyond_minter', limits: beyond });
    }
  };

  /** Whose `remaining` a key spends: its own, or the count it shares (null: it has no use limit). */
  const usePool = (row: ApiKeyRow) => row.uses_key_id ?? (row.remaining !== null ? row.id : null);

  /**
   * A key minted by a key: its limits under the minter's (inherited when not asked for), its minter
   * recorded so revoking the minter revokes it, and its uses taken from the minter's. Asked for
   * `remaining`, that many move out of the minter's count; not asked, it shares the minter's count,
   * so no mint ever adds uses.
   */
  async function underMinter(trx: Executor, minter: ApiKeyRow, input: CreateKeyInput): Promise<Lineage> {
    const { limits, beyond } = limitsUnder(minter, input);
    const pool = usePool(minter);
    if (pool !== null && input.remaining !== undefined && (await store.takeUses(trx, pool, input.remaining)) === null) {
      beyond.remaining = `more than the uses the minting key has left (${(await store.usesLeft(trx, pool)) ?? 0})`;
    }
    beyondMinter(beyond);
    const shares = pool !== null && input.remaining === undefined;
    return { ...limits, remaining: shares ? null : (input.remaining ?? null), parent_key_id: minter.id, uses_key_id: shares ? pool : null };
  }

  /** A key rotating another gets the successor: the key rotated must be no looser than the rotator. */
  async function requireRotatable(trx: Executor, actor: Actor, workspaceId: string | null, old: ApiKeyRow) {
    // Not locked: the successor descends from the rotated key's minter, not from the rotator.
    const rotator = await minterOf(trx, actor, workspaceId, false);
    if (!rotator || rotator.id === old.id) return;
    const { beyond } = limitsUnder(rotator, {
      expires_at: old.expires_at?.toISOString() ?? '9999-12-31T00:00:00.000Z',
      ip_allowlist: old.ip_allowlist?.length ? old.ip_allowlist : ['0.0.0.0/0', '::/0'],
      rate_limit: old.rate_limit !== null && old.rate_window_s !== null ? { limit: old.rate_limit, window_s: old.rate_window_s } : { limit: Number.MAX_SAFE_INTEGER, window_s: 1 },
    });
    const rotatorPool = usePool(rotator);
    const oldPool = usePool(old);
    if (rotatorPool !== null && oldPool !== rotatorPool) {
      const [mine, theirs] = [await store.usesLeft(trx, rotatorPool), oldPool === null ? null : await store.usesLeft(trx, oldPool)];
      if (theirs === null || theirs > (mine ?? 0)) beyond.remaining = `more uses than the rotating key has left (${mine ?? 0})`;
    }
    beyondMinter(beyond);
  }

  function validate(actor: Actor, workspaceId: string | null, input: CreateKeyInput) {
    const unknown = input.scopes.filter((s) => !isKnownScope(s));
    if (unknown.length) throw invalid('unknown scopes', { unknown_scopes: unknown });
    requireGrantable(actor, input.scopes, workspaceId);
    if (input.expires_at && new Date(input.expires_at).getTime() <= clock.now()) {
      throw invalid('expires_at must be in the future', { field: 'expires_at' });
    }
    if (input.ip_allowlist) {
      const { invalid: bad } = parseAllowList(input.ip_allowlist);
      if (bad.length) throw invalid('ip_allowlist holds entries that are not addresses or CIDR ranges', { invalid: bad });
    }
  }

  async function insert(trx: Executor, actor: Actor, workspaceId: string | null, input: CreateKeyInput, lineage?: Lineage) {
    const key = generateKey(input.environment ?? 'live');
    const row = await store.insertKey(trx, {
      id: newId('key'),
      workspace_id: workspaceId,
      name: input.name,
      environment: input.environment ?? 'live',
      key_hash: hashKey(key),
      start: displayStart(key),
      scopes: workspaceId === null ? ['*'] : [...new Set(input.scopes)],
      platform_admin: workspaceId === null,
      expires_at: lineage ? lineage.expires_at : (input.expires_at ?? null),
      remaining: lineage ? lineage.remaining : (input.remaining ?? null),
      ip_allowlist: lineage ? lineage.ip_allowlist : input.ip_allowlist?.length ? input.ip_allowlist : null,
      rate_limit: (lineage ? lineage.rate_limit : input.rate_limit)?.limit ?? null,
      rate_window_s: (lineage ? lineage.rate_limit : input.rate_limit)?.window_s ?? null,
      parent_key_id: lineage?.parent_key_id ?? null,
      uses_key_id: lineage?.uses_key_id ?? null,
      created_by: actor.id,
    });
    await audit.append(trx, actor, {
      workspaceId,
      action: 'key.created',
      category: 'keys',
      severity: workspaceId === null ? 'critical' : 'info',
      resource: { type: 'api_key', id: row.id },
      after: view(row),
    });
    return { row, key };
  }

  /**
   * A revoked key's minted keys stop with it, in the same transaction: each is revoked, audited and
   * announced to every process. Returns their ids, for this process's cache.
   */
  async function revokeMinted(trx: Executor, actor: Actor, keyId: string, at: Date): Promise<string[]> {
    const minted: Array<{ id: string; workspace_id: string | null }> = [];
    // Walked again until nothing is left: a key minted by a descendant while this walk waited on
    // that descendant's lock committed after the walk's snapshot; the next walk sees it.
    for (let batch = await store.revokeDescendants(trx, keyId, at); batch.length; batch = await store.revokeDescendants(trx, keyId, at)) minted.push(...batch);
    for (const key of minted) {
      await store.notifyKeyChanged(trx, key.id);
      await audit.append(trx, actor, {
        workspaceId: key.workspace_id,
        action: 'key.revoked',
        category: 'keys',
        severity: 'warning',
        resource: { type: 'api_key', id: key.id },
        after: { reason: 'minter_revoked', minter: keyId, at: at.toISOString() },
      });
    }
    return minted.map((k) => k.id);
  }

  /** Platform admin routes name a key by id alone; anyone else sees only their own workspace's keys. */
  async function resolveWorkspace(actor: Actor, keyId: string): Promise<string | null> {
    const located = await store.locateKey(db, keyId);
    if (!located || !canSeeWorkspace(actor, located.workspace_id)) throw notFound('api key');
    return located.workspace_id;
  }

  async function mutate<T>(actor: Actor, keyId: string, change: (trx: Executor, row: ApiKeyRow, ws: string | null) => Promise<T>) {
    const workspaceId = await resolveWorkspace(actor, keyId);
    const result = await db.transaction().execute(async (trx) => {
      const row = await store.getKey(trx, workspaceId, keyId, true);
      if (!row) throw notFound('api key');
      const out = await change(trx, row, workspaceId);
      await store.notifyKeyChanged(trx, keyId);
      return out;
    });
    // This process need not wait for its own NOTIFY to come back.
    cache.invalidate(keyId);
    return result;
  }

  return {
    async create(actor: Actor, workspaceId: string, input: CreateKeyInput) {
      validate(actor, workspaceId, input);
      const { row, key } = await db.transaction().execute(async (trx) => {
        const minter = await minterOf(trx, actor, workspaceId);
        return insert(trx, actor, workspaceId, input, minter && (await underMinter(trx, minter, input)));
      });
      return { ...view(row), key };
    },

    async createPlatformAdminKey(actor: Actor, name: string) {
      requirePlatformAdmin(actor);
      const { row, key } = await db.transaction().execute((trx) => insert(trx, actor, null, { name, scopes: ['*'] }));
      return { ...view(row), key };
    },

    /** First start on an empty database: one platform admin key, created by exactly one process. */
    async bootstrapPlatformKey(): Promise<string | null> {
      return db.transaction().execute(async (trx) => {
        await store.lockBootstrap(trx);
        if ((await store.countPlatformAdmins(trx)) > 0) return null;
        const { key } = await insert(trx, systemActor(), null, { name: 'bootstrap platform admin', scopes: ['*'] });
        return key;
      });
    },

    async list(workspaceId: string, page: PageRequest) {
      return toPage(await store.listKeys(db, workspaceId, page), page, view);
    },

    async get(actor: Actor, keyId: string) {
      const workspaceId = await resolveWorkspace(actor, keyId);
      const row = await store.getKey(db, workspaceId, keyId);
      if (!row) throw notFound('api key');
      return view(row);
    },

    async rotate(actor: Actor, keyId: string, graceS = DEFAULT_GRACE_S) {
      if (graceS < 0 || graceS > MAX_GRACE_S) throw invalid(`grace_s must be between 0 and ${MAX_GRACE_S}`);
      return mutate(actor, keyId, async (trx, old, workspaceId) => {
        requireGrantable(actor, old.scopes, workspaceId);
        const status = keyStatus(old, clock.now());
        if (status !== 'active') throw conflict(`only an active key can be rotated; this one is ${status}`, { status, replaced_by: old.replaced_by });
        await requireRotatable(trx, actor, workspaceId, old);
        // The successor takes the key's place: the same limits, minter and use count (shared, so a
        // rotation adds no uses), and it becomes the minter of what the key minted.
        const pool = usePool(old);
        const { row, key } = await insert(trx, actor, workspaceId, { name: old.name, scopes: old.scopes, environment: old.environment }, {
          expires_at: old.expires_at?.toISOString() ?? null,
          ip_allowlist: old.ip_allowlist?.length ? old.ip_allowlist : null,
          rate_limit: old.rate_limit !== null && old.rate_window_s !== null ? { limit: old.rate_limit, window_s: old.rate_window_s } : null,
          remaining: null,
          parent_key_id: old.parent_key_id,
          uses_key_id: pool,
        });
        await store.reparentChildren(trx, old.id, row.id);
        const revokeAt = new Date(clock.now() + graceS * 1000);
        if (graceS === 0) await store.markRevoked(trx, workspaceId, old.id, revokeAt, 'rotated');
        await store.scheduleRevocation(trx, workspaceId, old.id, revokeAt, row.id);
        await audit.append(trx, actor, {
          workspaceId,
          action: 'key.rotated',
          category: 'keys',
          severity: 'warning',
          resource: { type: 'api_key', id: old.id },
          before: view(old),
          after: { replaced_by: row.id, revoke_at: revokeAt.toISOString(), grace_s: graceS },
        });
        return { ...view(row), key, previous_key: { id: old.id, revoke_at: revokeAt.toISOString() } };
      });
    },

    async revoke(actor: Actor, keyId: string) {
      let minted: string[] = [];
      const revoked = await mutate(actor, keyId, async (trx, old, workspaceId) => {
        if (old.revoked_at) return view(old);
        const at = new Date(clock.now());
        await store.markRevoked(trx, workspaceId, keyId, at, 'revoked');
        minted = await revokeMinted(trx, actor, keyId, at);
        const row = present(await store.getKey(trx, workspaceId, keyId), 'the revoked key');
        await audit.append(trx, actor, {
          workspaceId,
          action: 'key.revoked',
          category: 'keys',
          severity: 'warning',
          resource: { type: 'api_key', id: keyId },
          before: view(old),
          after: { ...view(row), minted_keys_revoked: minted.length },
        });
        return view(row);
      });
      for (const id of minted) cache.invalidate(id);
      return revoked;
    },

    async usage(actor: Actor, keyId: string, days: number) {
      const workspaceId = await resolveWorkspace(actor, keyId);
      const row = await store.getKey(db, workspaceId, keyId);
      if (!row) throw notFound('api key');
      const since = new Date(clock.now() - (days - 1) * 86400_000).toISOString().slice(0, 10);
      const buckets = await store.usageByDay(db, workspaceId, keyId, since);
      const byDay = new Map(buckets.map((b) => [b.day, Number(b.requests)]));
      const series = Array.from({ length: days }, (_, i) => {
        const day = new Date(Date.parse(since) + i * 86400_000).toISOString().slice(0, 10);
        return { day, requests: byDay.get(day) ?? 0 };
      });
      return {
        key_id: keyId,
        last_used_at: row.last_used_at?.toISOString() ?? null,
        last_used_ip: row.last_used_ip,
        total_requests: series.reduce((n, d) => n + d.requests, 0),
        days: series,
      };
    },

    /** Job: marks keys whose rotation grace or expiry has passed, audits it, and tells every process. */
    async revokeDueKeys(now = new Date(clock.now())) {
      const due = await store.keysDueForRevocation(db, now, 500);
      for (const key of due) {
        const expired = key.expires_at !== null && key.expires_at <= now && !(key.revoke_at && key.revoke_at <= now);
        const at = present(expired ? key.expires_at : key.revoke_at, "a due key's time");
        const minted = await db.transaction().execute(async (trx) => {
          // Two overlapping runs both list the key; only the one whose update took effect audits it.
          if (!(await store.markRevoked(trx, key.workspace_id, key.id, at, expired ? 'expired' : 'rotated'))) return [];
          await store.notifyKeyChanged(trx, key.id);
          await audit.append(trx, systemActor(), {
            workspaceId: key.workspace_id,
            action: expired ? 'key.expired' : 'key.revoked',
            category: 'keys',
            severity: 'info',
            resource: { type: 'api_key', id: key.id },
            after: { reason: expired ? 'expired' : 'rotation_grace_elapsed', at: at.toISOString() },
          });
          // What it minted in its rotation grace (the rest moved to its successor) stops with it.
          return revokeMinted(trx, systemActor(), key.id, new Date(clock.now()));
        });
        cache.invalidate(key.id);
        for (const id of minted) cache.invalidate(id);
      }
      return due.length;
    },

    async applyUsageBatch(entries: store.UsageBatchEntry[]) {
      await db.transaction().execute(async (trx) => {
        // Usage counts are already batched in memory (a crash loses up to one interval of them), so
        // their commit need not wait for the WAL flush: on the embedded database that flush is a
        // synchronous fsync that would stall every request being served for several milliseconds.
        await store.commitAsynchronously(trx);
        await store.applyUsage(trx, entries);
      });
    },
  };
}
export type ApiKeyService = ReturnType<typeof createApiKeyService>;
