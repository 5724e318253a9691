import type { BlockList } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { ApiKeyRow } from '../../db/types.js';
import { parseAllowList } from './scopes.js';

/** What the hot path needs of a key, parsed once per cache fill. */
export interface CachedKey {
  id: string;
  workspaceId: string | null;
  platformAdmin: boolean;
  scopes: readonly string[];
  expiresAt: number | null;
  /** When the key stops working: a manual revoke, or the end of a rotation grace. */
  revokedAt: number | null;
  revokedReason: string | null;
  usageLimited: boolean;
  /** The key whose `remaining` a use spends: its own, or the count it shares with its minter or predecessor. */
  usesKeyId: string;
  rateLimit: { limit: number; windowS: number } | null;
  allowList: BlockList | null;
}

export function toCachedKey(row: ApiKeyRow): CachedKey {
  const revokedAt = row.revoked_at ?? row.revoke_at;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    platformAdmin: row.platform_admin,
    scopes: row.scopes,
    expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    revokedAt: revokedAt ? revokedAt.getTime() : null,
    revokedReason: row.revoked_at ? row.revoked_reason : row.revoke_at ? 'rotated' : null,
    usageLimited: row.remaining !== null || row.uses_key_id !== null,
    usesKeyId: row.uses_key_id ?? row.id,
    rateLimit: row.rate_limit && row.rate_window_s ? { limit: row.rate_limit, windowS: row.rate_window_s } : null,
    allowList: row.ip_allowlist?.length ? parseAllowList(row.ip_allowlist).list : null,
  };
}

const MISSING = Symbol('missing');

/**
 * Hash → key, with misses cached too (a flood of made-up keys must not reach the database).
 * Entries are dropped by id when any process NOTIFYs a change; the TTL only bounds staleness if a
 * notification is ever lost while the LISTEN connection reconnects.
 */
export function createKeyCache(ttlMs: number, max = 100_000) {
  const byHash = new LRUCache<string, CachedKey | typeof MISSING>({ max, ttl: ttlMs });
  const hashById = new Map<string, string>();
  return {
    get(hash: string): CachedKey | null | undefined {
      const hit = byHash.get(hash);
      return hit === MISSING ? null : hit;
    },
    set(hash: string, key: CachedKey | null) {
      byHash.set(hash, key ?? MISSING);
      if (key) hashById.set(key.id, hash);
    },
    invalidate(keyId: string) {
      const hash = hashById.get(keyId);
      if (hash) byHash.delete(hash);
      hashById.delete(keyId);
    },
    clear() {
      byHash.clear();
      hashById.clear();
    },
  };
}
export type KeyCache = ReturnType<typeof createKeyCache>;
