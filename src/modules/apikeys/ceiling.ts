import ipaddr from 'ipaddr.js';
import type { ApiKeyRow } from '../../db/types.js';

/** The limits a key is issued with; null: none. */
export interface KeyLimits {
  expires_at: string | null;
  ip_allowlist: string[] | null;
  rate_limit: { limit: number; window_s: number } | null;
}

export interface AskedLimits {
  expires_at?: string;
  ip_allowlist?: string[];
  rate_limit?: { limit: number; window_s: number };
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** An allow-list entry as a range; an IPv4-mapped IPv6 one is read as the IPv4 range it carries. */
function range(entry: string): Range {
  const [address, bits] = entry.split('/');
  const parsed = ipaddr.parse(address);
  const prefix = bits === undefined ? (parsed.kind() === 'ipv4' ? 32 : 128) : Number(bits);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(parsed as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [parsed, prefix];
}

/** Whether every address of `inner` is inside one entry of `outer` (entries already validated). */
export function allowListCovers(outer: readonly string[], inner: string): boolean {
  try {
    const [addr, bits] = range(inner);
    return outer.some((entry) => {
      const [net, netBits] = range(entry);
      return net.kind() === addr.kind() && bits >= netBits && addr.match(net, netBits);
    });
  } catch {
    return false; // an entry ipaddr.js cannot read is not shown to be inside
  }
}

/**
 * A minted key's limits under its minter's: each one the minter has is inherited when not asked
 * for, and an asked one may narrow it, never widen it. Returns the limits, and what was asked
 * beyond the minter (field → why) for the caller to refuse.
 */
export function limitsUnder(minter: ApiKeyRow, asked: AskedLimits): { limits: KeyLimits; beyond: Record<string, string> } {
  const beyond: Record<string, string> = {};
  const limits: KeyLimits = {
    expires_at: asked.expires_at ?? null,
    ip_allowlist: asked.ip_allowlist?.length ? asked.ip_allowlist : null,
    rate_limit: asked.rate_limit ?? null,
  };
  if (minter.expires_at) {
    const ceiling = minter.expires_at.toISOString();
    if (limits.expires_at === null) limits.expires_at = ceiling;
    else if (Date.parse(limits.expires_at) > minter.expires_at.getTime()) beyond.expires_at = `after the minting key expires (${ceiling})`;
  }
  const minterList = minter.ip_allowlist;
  if (minterList?.length) {
    const outside = limits.ip_allowlist?.filter((entry) => !allowListCovers(minterList, entry)) ?? [];
    if (limits.ip_allowlist === null) limits.ip_allowlist = minter.ip_allowlist;
    else if (outside.length) beyond.ip_allowlist = `outside the minting key's allow-list: ${outside.join(', ')}`;
  }
  if (minter.rate_limit !== null && minter.rate_window_s !== null) {
    const ceiling = { limit: minter.rate_limit, window_s: minter.rate_window_s };
    // Fewer requests over a window at least as long: neither the burst nor the rate can exceed the minter's.
    if (limits.rate_limit === null) limits.rate_limit = ceiling;
    else if (limits.rate_limit.limit > ceiling.limit || limits.rate_limit.window_s < ceiling.window_s) {
      beyond.rate_limit = `looser than the minting key's ${ceiling.limit} per ${ceiling.window_s} s (at most that limit, over at least that window)`;
    }
  }
  return { limits, beyond };
}
