import { Resolver } from 'node:dns/promises';
import { AppError } from '../../lib/errors.js';

/** Where an organization publishes a domain's challenge, and what the record must say. */
export const txtRecordOf = (domain: string, challenge: string) => ({
  name: `_gatehouse-challenge.${domain}`,
  value: `gatehouse-domain-verification=${challenge}`,
});

/** A DNS answer that says the name holds no TXT record (rather than that the lookup failed). */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/**
 * Whether a domain's TXT records hold its challenge: proof that whoever claims the domain for an
 * organization controls its DNS. `servers` (GATEHOUSE_DNS_SERVERS) replaces the system's resolvers.
 */
export function createDomainProof(servers?: readonly string[]) {
  return async function holdsChallenge(domain: string, challenge: string): Promise<{ proven: boolean; records: number }> {
    const resolver = new Resolver({ timeout: 3000, tries: 2 });
    if (servers?.length) resolver.setServers([...servers]);
    const { name, value } = txtRecordOf(domain, challenge);
    try {
      // A long TXT record arrives in chunks of 255 characters: joined, it is the record as written.
      const texts = (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
      return { proven: texts.includes(value), records: texts.length };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
      if (NO_RECORD.has(code)) return { proven: false, records: 0 };
      throw new AppError('upstream_failed', `the DNS lookup of ${name} failed (${code}): try again later`, { reason: 'dns_failed' });
    }
  };
}
export type DomainProof = ReturnType<typeof createDomainProof>;
