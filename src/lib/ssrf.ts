import dns, { type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from './errors.js';

/**
 * The one outbound address policy (webhook endpoints, provider base URLs, every upstream call):
 * only a global unicast address is a target. ipaddr.js knows the IANA special ranges (loopback,
 * private, CGNAT, link-local and cloud metadata, benchmark, 192.0.0.0/24, documentation, multicast,
 * unspecified, unique-local, …); anything it does not call `unicast` is refused. Unless
 * GATEHOUSE_ALLOW_PRIVATE_TARGETS is set, and nothing else (a workspace's test mode included) relaxes it.
 */

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');
// Names that only mean something on the local host or network (RFC 6761, 6762, 8375; ICANN's .internal).
const LOCAL_NAME = /(^|\.)(localhost|local|localdomain|internal|home\.arpa)$/;

const v4At = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);

/**
 * The IPv4 address an IPv6 address leads to: IPv4-mapped, NAT64 (a DNS64 resolver answers with
 * these for IPv4-only hosts, so a public one must pass) and 6to4.
 */
function embeddedIPv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = a.parts;
  if (a.isIPv4MappedAddress() || a.match(NAT64)) return v4At(p[6], p[7]);
  if (a.range() === '6to4') return v4At(p[1], p[2]);
  return null;
}

/**
 * Why an IP address may not be a target (its range, e.g. `loopback`), or null for a global unicast
 * one. Every IPv4 spelling inet_aton takes is parsed as the address it means: `127.1`,
 * `0x7f000001`, `2130706433`, `0177.0.0.1`.
 */
export function refusedAddress(address: string): string | null {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  } catch {
    return 'not an IP address';
  }
  if (a.kind() === 'ipv4') return a.range() === 'unicast' ? null : a.range();
  const v6 = a as ipaddr.IPv6;
  const v4 = embeddedIPv4(v6);
  if (v4) {
    const inner = refusedAddress(v4.toString());
    return inner && `${inner} (${v4.toString()} inside ${v6.range()})`;
  }
  if (v6.range() !== 'unicast') return v6.range();
  // ipaddr.js calls whatever no special range holds unicast; only 2000::/3 is allocated for global
  // unicast (this also refuses the old IPv4-compatible ::a.b.c.d, e.g. ::7f00:1).
  return v6.match(GLOBAL_UNICAST_V6) ? null : 'not global unicast';
}

/** Why a URL host may not be a target, judged without any lookup, or null. */
export function refusedHost(hostname: string): string | null {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (ipaddr.isValid(host)) return refusedAddress(host);
  // `localhost.` and `intranet` reach the same hosts as `localhost` and a search-domain name.
  if (host.endsWith('.')) return 'a name ending in a dot';
  if (!host.includes('.')) return 'a single-label name';
  if (LOCAL_NAME.test(host)) return 'a local name';
  return null;
}

const refused = (host: string, reason: string, field?: string) =>
  new AppError('validation_failed', `outbound calls to ${host} are refused: ${reason} (only public addresses are targets unless GATEHOUSE_ALLOW_PRIVATE_TARGETS is set)`, {
    reason: 'private_target',
    ...(field ? { field } : {}),
  });

/** Checks a URL's host as written: IP literals (connected to without a lookup) and local names. */
export function assertPublicUrl(url: URL, allowPrivate: boolean, field?: string) {
  if (allowPrivate) return;
  const why = refusedHost(url.hostname);
  if (why) throw refused(url.hostname, why, field);
}

export type Resolve = (host: string) => Promise<string[]>;

/** Every address the host's resolver gives (getaddrinfo, as the connection itself will use). */
export const resolveAll: Resolve = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The check at creation: the host as written, then every address its name resolves to now (A and
 * AAAA alike); a name that does not resolve is refused too. The resolved addresses are not echoed:
 * they would tell a tenant what internal names point at.
 */
export async function assertPublicTarget(url: URL, opts: { allowPrivate: boolean; field: string; resolve?: Resolve }) {
  if (opts.allowPrivate) return;
  assertPublicUrl(url, false, opts.field);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) return;
  let addresses: string[] = [];
  try {
    addresses = await (opts.resolve ?? resolveAll)(host);
  } catch {
    // ENOTFOUND, or no answer: nothing to judge
  }
  if (addresses.length === 0) {
    throw new AppError('validation_failed', `${opts.field}: the name ${host} does not resolve`, { field: opts.field, reason: 'unresolvable' });
  }
  if (addresses.some((a) => refusedAddress(a) !== null)) throw refused(host, 'it resolves to a private, loopback or reserved address', opts.field);
}

/**
 * A DNS lookup for the HTTP client that refuses private answers at connect time, so a name that
 * re-binds to an internal address between a check and the request is still refused.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const bad = !allowPrivate && list.find((a) => refusedAddress(a.address) !== null);
      if (bad) return callback(Object.assign(refused(hostname, 'it resolves to a private, loopback or reserved address'), { code: 'EPRIVATETARGET' }) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
