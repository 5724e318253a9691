import dns from 'node:dns';
import { describe, expect, test, vi } from 'vitest';
import { assertPublicTarget, assertPublicUrl, guardedLookup, refusedAddress, refusedHost } from '../../src/lib/ssrf.js';

/**
 * Each spelling an attacker uses to reach an internal address, as written in a URL: the host as
 * WHATWG URL parsing hands it to the check (it normalises numeric IPv4 forms for http(s)), and the
 * raw spelling given to the policy directly (as a resolver or another URL scheme could).
 */
const REFUSED: Array<[string, string]> = [
  ['decimal IPv4', 'https://2130706433/x'],
  ['octal IPv4', 'https://0177.0.0.1/x'],
  ['hex IPv4', 'https://0x7f000001/x'],
  ['short IPv4 127.1', 'https://127.1/x'],
  ['IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]/x'],
  ['IPv4-mapped metadata', 'https://[::ffff:169.254.169.254]/x'],
  ['NAT64 of the metadata address', 'https://[64:ff9b::a9fe:a9fe]/x'],
  ['NAT64 of loopback', 'https://[64:ff9b::127.0.0.1]/x'],
  ['6to4 of loopback', 'https://[2002:7f00:1::]/x'],
  ['6to4 of a private address', 'https://[2002:0a00:0001::1]/x'],
  ['IPv4-compatible loopback', 'https://[::7f00:1]/x'],
  ['CGNAT 100.64/10', 'https://100.64.0.1/x'],
  ['CGNAT top', 'https://100.127.255.254/x'],
  ['benchmark 198.18/15', 'https://198.18.0.1/x'],
  ['benchmark 198.19', 'https://198.19.255.1/x'],
  ['IETF protocol assignments 192.0.0.0/24', 'https://192.0.0.8/x'],
  ['multicast IPv4', 'https://224.0.0.1/x'],
  ['multicast IPv6', 'https://[ff02::1]/x'],
  ['unspecified IPv4', 'https://0.0.0.0/x'],
  ['unspecified IPv6', 'https://[::]/x'],
  ['link-local (metadata)', 'https://169.254.169.254/x'],
  ['link-local IPv6', 'https://[fe80::1]/x'],
  ['unique-local fc00::/7', 'https://[fd00::1]/x'],
  ['unique-local fc00::', 'https://[fc00::5]/x'],
  ['loopback IPv6', 'https://[::1]/x'],
  ['private 10/8', 'https://10.1.2.3/x'],
  ['private 172.16/12', 'https://172.31.0.1/x'],
  ['private 192.168/16', 'https://192.168.1.1/x'],
  ['reserved 240/4', 'https://240.0.0.1/x'],
  ['broadcast', 'https://255.255.255.255/x'],
  ['trailing-dot localhost', 'https://localhost./x'],
  ['trailing-dot public name', 'https://hooks.example.com./x'],
  ['single-label name', 'https://intranet/x'],
  ['localhost', 'https://localhost/x'],
  ['a localhost subdomain', 'https://foo.localhost/x'],
  ['mDNS .local', 'https://printer.local/x'],
  ['.internal', 'https://metadata.google.internal/x'],
];

describe('the outbound address policy', () => {
  test.each(REFUSED)('refuses %s (%s)', (_what, raw) => {
    const url = new URL(raw);
    expect(refusedHost(url.hostname), url.hostname).not.toBeNull();
    expect(() => assertPublicUrl(url, false, 'url')).toThrow(expect.objectContaining({ code: 'validation_failed', details: { reason: 'private_target', field: 'url' } }));
  });

  test.each([
    ['decimal', '2130706433'],
    ['octal', '0177.0.0.1'],
    ['hex', '0x7f000001'],
    ['hex dotted', '0x7f.0.0.1'],
    ['short', '127.1'],
    ['three-part', '127.0.1'],
  ])('parses the raw %s IPv4 spelling %s as loopback', (_what, spelling) => {
    expect(refusedAddress(spelling)).toBe('loopback');
    expect(refusedHost(spelling)).toBe('loopback');
  });

  test('embedded IPv4 addresses are judged by the address they lead to', () => {
    expect(refusedAddress('::ffff:7f00:1')).toMatch(/^loopback/);
    expect(refusedAddress('64:ff9b::a9fe:a9fe')).toMatch(/^linkLocal/);
    expect(refusedAddress('2002:a9fe:a9fe::1')).toMatch(/^linkLocal/);
    // A DNS64 network answers NAT64 addresses for public IPv4-only hosts: those stay reachable.
    expect(refusedAddress('64:ff9b::808:808')).toBeNull();
    expect(refusedAddress('::ffff:8.8.8.8')).toBeNull();
    // The local-use NAT64 prefix is not a public route.
    expect(refusedAddress('64:ff9b:1::808:808')).not.toBeNull();
  });

  test('global unicast addresses and public names pass', () => {
    for (const ok of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e']) expect(refusedAddress(ok), ok).toBeNull();
    for (const ok of ['hooks.example.com', 'api.twilio.com', 'xn--nxasmq6b.example']) expect(refusedHost(ok), ok).toBeNull();
    expect(() => assertPublicUrl(new URL('https://8.8.8.8/x'), false)).not.toThrow();
  });

  test('GATEHOUSE_ALLOW_PRIVATE_TARGETS lets everything through', async () => {
    expect(() => assertPublicUrl(new URL('http://127.0.0.1/x'), true)).not.toThrow();
    await expect(assertPublicTarget(new URL('http://intranet/x'), { allowPrivate: true, field: 'url', resolve: async () => ['10.0.0.1'] })).resolves.toBeUndefined();
  });
});

describe('the check at creation resolves names', () => {
  const answers = (map: Record<string, string[]>) => async (host: string) => {
    if (!map[host]) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return map[host];
  };
  const resolve = answers({
    'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'mixed.example': ['93.184.216.34', '10.0.0.7'],
    'v6-loopback.example': ['::1'],
    'nat64-metadata.example': ['64:ff9b::a9fe:a9fe'],
  });
  const check = (raw: string) => assertPublicTarget(new URL(raw), { allowPrivate: false, field: 'url', resolve });

  test('a name whose every address is public passes', async () => {
    await expect(check('https://public.example/hook')).resolves.toBeUndefined();
  });

  test('one private address among the answers is enough to refuse, and it is not echoed', async () => {
    for (const raw of ['https://mixed.example/hook', 'https://v6-loopback.example/hook', 'https://nat64-metadata.example/hook']) {
      const err = await check(raw).then(() => null, (e: Error & { details?: unknown }) => e);
      expect(err, raw).toMatchObject({ code: 'validation_failed', details: { field: 'url', reason: 'private_target' } });
      expect(err!.message).not.toMatch(/10\.0\.0\.7|::1|a9fe/);
    }
  });

  test('a name that does not resolve is refused with a clear reason', async () => {
    await expect(check('https://nowhere.example/hook')).rejects.toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/does not resolve/),
      details: { field: 'url', reason: 'unresolvable' },
    });
  });
});

describe('the connect-time lookup', () => {
  /** What guardedLookup answers when the resolver, at the moment of connecting, gives `addresses`. */
  async function connectTimeAnswer(addresses: string[]) {
    const spy = vi.spyOn(dns, 'lookup').mockImplementation(((_host: string, _opts: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) =>
      cb(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))) as never);
    try {
      return await new Promise<{ code?: string; address?: string }>((resolve) =>
        guardedLookup(false)('rebound.example', { all: false } as never, ((err: NodeJS.ErrnoException | null, address: string) => resolve(err ? { code: err.code } : { address })) as never));
    } finally {
      spy.mockRestore();
    }
  }

  test('a name that rebinds to a private address after the creation check is refused when connecting', async () => {
    for (const answer of [['10.0.0.7'], ['93.184.216.34', '127.0.0.1'], ['64:ff9b::a9fe:a9fe'], ['198.18.0.1'], ['::ffff:7f00:1']]) {
      expect(await connectTimeAnswer(answer), answer.join(',')).toEqual({ code: 'EPRIVATETARGET' });
    }
    expect(await connectTimeAnswer(['93.184.216.34'])).toEqual({ address: '93.184.216.34' });
  });
});
