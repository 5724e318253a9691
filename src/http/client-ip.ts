import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import ipaddr from 'ipaddr.js';

/** Which socket peers may speak for the client through X-Forwarded-For (`hop` counts from the socket). */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * The one trust rule both doors use (Fastify's `trustProxy` and the verification fast path):
 * 'all' believes every peer (the old GATEHOUSE_TRUST_PROXY=true), a list believes only peers in
 * those ranges, and none believes nobody, so X-Forwarded-For is then ignored.
 */
export function proxyTrust(trusted: 'all' | readonly string[]): ProxyTrust | undefined {
  if (trusted === 'all') return () => true;
  return trusted.length ? proxyAddr.compile([...trusted]) : undefined;
}

/** Throws on an entry proxy-addr cannot read (an address, a CIDR, or loopback/linklocal/uniquelocal). */
export const checkTrustedProxies = (entries: readonly string[]) => void proxyAddr.compile([...entries]);

/** The client's address as Fastify's `request.ip` gives it under the same trust. */
export function clientIp(req: IncomingMessage, trust: ProxyTrust | undefined): string {
  return trust ? proxyAddr(req, trust) : (req.socket.remoteAddress ?? '');
}

/**
 * The source a per-address limit counts: an IPv6 client by its /64 (a host is usually given a whole
 * /64, so single addresses would give it a fresh count per attempt), IPv4 (also as ::ffff:a.b.c.d)
 * as the address. Anything else is counted as it is.
 */
export function limitedSource(ip: string | null): string {
  if (!ip || !ipaddr.isValid(ip)) return ip ?? '';
  const a = ipaddr.process(ip);
  return a.kind() === 'ipv4' ? a.toString() : `${ipaddr.IPv6.networkAddressFromCIDR(`${a.toString()}/64`).toString()}/64`;
}
