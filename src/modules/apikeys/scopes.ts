import { isIP } from 'node:net';
import { BlockList } from 'node:net';

import { KNOWN_SCOPES } from './scope-list.js';

export { KNOWN_SCOPES };

const RESOURCES = new Set(KNOWN_SCOPES.map((s) => s.split(':')[0]));

export const isKnownScope = (scope: string): boolean =>
  scope === '*' ||
  (KNOWN_SCOPES as readonly string[]).includes(scope) ||
  (scope.endsWith(':*') && RESOURCES.has(scope.slice(0, -2)));

/** A role is a named set of scopes. */
export const ROLE_SCOPES: Record<'admin' | 'manager' | 'member' | 'read_only', readonly string[]> = {
  admin: ['*'],
  manager: KNOWN_SCOPES.filter((s) => s !== 'members:write'),
  member: [...KNOWN_SCOPES.filter((s) => s.endsWith(':read') && s !== 'audit:read'), 'upstream:call', 'events:write'],
  read_only: KNOWN_SCOPES.filter((s) => s.endsWith(':read') && s !== 'audit:read'),
};

// An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
export const normalizeIp = (ip: string) => (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip);

/** Parses allow-list entries (addresses or CIDR ranges); returns the bad ones so the caller can name them. */
export function parseAllowList(entries: readonly string[]): { list: BlockList; invalid: string[] } {
  const list = new BlockList();
  const invalid: string[] = [];
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? undefined : Number(bits);
    const maxBits = family === 4 ? 32 : 128;
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > maxBits))) {
      invalid.push(entry);
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return { list, invalid };
}

export function ipAllowed(list: BlockList, ip: string | null): boolean {
  if (!ip) return false;
  const addr = normalizeIp(ip);
  const family = isIP(addr);
  if (!family) return false;
  return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
