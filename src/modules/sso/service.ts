import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isViolation } from '../../db/errors.js';
import type { DB } from '../../db/types.js';
import type { Actor } from '../../http/actor.js';
import { encryptSecret, maskSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { conflict, invalid, notFound, present } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import { txtRecordOf, type DomainProof } from './domain-proof.js';
import type { Oidc } from './oidc.js';
import { PRESETS, presetList, type PresetName } from './presets.js';
import { createSsoSignIn, type SignInDeps } from './sign-in.js';
import * as store from './store.js';
import { ssoBinding, type OrgRole, type SsoTenancy } from './types.js';

export type { OrgRole, SsoTenancy };

export interface SsoInput {
  preset?: PresetName | null;
  issuer: string;
  client_id: string;
  client_secret?: string;
  allowed_domains: string[];
  enforce?: boolean;
  default_role?: OrgRole;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function domainView(r: store.DomainRow) {
  return {
    domain: r.domain,
    verified: r.verified_at !== null,
    verified_at: r.verified_at?.toISOString() ?? null,
    verified_by: r.verified_by,
    // What to publish until it is proven; a claim older than the proofs has no challenge and needs none.
    txt_record: r.verified_at === null && r.challenge ? txtRecordOf(r.domain, r.challenge) : null,
  };
}

function configView(row: store.SsoConfigRow, rows: store.DomainRow[]) {
  const domains = rows.map((r) => r.domain);
  return {
    organization_id: row.organization_id,
    preset: row.preset,
    issuer: row.issuer,
    client_id: row.client_id,
    client_secret_mask: row.mask,
    allowed_domains: domains,
    domains: rows.map(domainView),
    enforce: row.enforce,
    default_role: row.default_role,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

interface Deps extends Omit<SignInDeps, 'configOf'> {
  /** Whether a domain's DNS holds its challenge (a TXT record). */
  holdsChallenge: DomainProof;
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  oidc: Oidc;
  tenancy: SsoTenancy;
}

export function createSsoService(deps: Deps) {
  const { db, ring, audit, oidc, tenancy, holdsChallenge } = deps;

  function normalizeDomains(domains: string[]) {
    const out = [...new Set(domains.map((d) => d.trim().toLowerCase()))].sort();
    const bad = out.filter((d) => !DOMAIN.test(d));
    if (bad.length) throw invalid(`not a domain name: ${bad.join(', ')}`, { field: 'allowed_domains', domains: bad });
    if (out.length === 0) throw invalid('name at least one email domain whose people sign in through this provider', { field: 'allowed_domains' });
    return out;
  }

  return {
    presets: presetList,

    async getConfig(actor: Actor, organizationId: string) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      const row = await store.configOf(db, organizationId);
      if (!row) throw notFound('single sign-on configuration');
      return configView(row, await store.domainRowsOf(db, organizationId));
    },

    /**
     * Proves a claimed domain: its DNS must hold the challenge as a TXT record. The platform admin's
     * word proves it without DNS (the operator knows its tenants). Until proven, nobody of the
     * domain is routed to this organization's provider.
     */
    async verifyDomain(actor: Actor, organizationId: string, domain: string) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      const claim = (await store.domainRowsOf(db, organizationId)).find((r) => r.domain === domain.toLowerCase());
      if (!claim) throw notFound('single sign-on domain');
      if (claim.verified_at) return domainView(claim);
      if (!actor.platformAdmin) {
        if (!claim.challenge) throw conflict('this claim has no challenge yet: save the configuration again', { reason: 'no_challenge' });
        const { proven, records } = await holdsChallenge(claim.domain, claim.challenge);
        if (!proven) {
          const record = txtRecordOf(claim.domain, claim.challenge);
          throw conflict(`no TXT record at ${record.name} holds this domain's challenge yet (${records} found): publish it, then verify again`, {
            reason: 'domain_not_proven', txt_record: record, records_found: records,
          });
        }
      }
      return db.transaction().execute(async (trx) => {
        const proven = present(await store.markVerified(trx, organizationId, claim.domain, actor.platformAdmin ? 'platform_admin' : 'dns'), 'the claim just read');
        await audit.append(trx, actor, {
          workspaceId: null, organizationId, action: 'sso.domain_verified', category: 'auth', resource: { type: 'organization', id: organizationId },
          after: { organization_id: organizationId, domain: proven.domain, verified_by: proven.verified_by },
        });
        return domainView(proven);
      });
    },

    /**
     * Sets the organization's provider. The issuer is checked (https, a public address) and its
     * discovery document read before anything is saved, so a configuration that cannot sign anyone
     * in is refused at once; the secret is sealed and never returned. A domain belongs to one
     * organization only (409 naming the domains already claimed).
     */
    async configure(actor: Actor, organizationId: string, input: SsoInput) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      const issuer = input.issuer.replace(/\/+$/, '');
      const defaultRole = input.default_role ?? 'member';
      // Newcomers get at most the configuring person's own role.
      tenancy.requireOrgRoleWithin(actor, organizationId, defaultRole);
      const preset = input.preset ?? null;
      if (preset && !PRESETS[preset].matches.test(issuer)) {
        throw invalid(`the issuer does not look like ${PRESETS[preset].label}'s: ${PRESETS[preset].issuer_pattern}`, { field: 'issuer', reason: 'preset_mismatch' });
      }
      const domains = normalizeDomains(input.allowed_domains);
      const existing = await store.configOf(db, organizationId);
      // The audit entry keeps the domain names (allowed_domains), not their proofs: those have their own entries.
      const before = existing ? { ...configView(existing, await store.domainRowsOf(db, organizationId)), client_secret_mask: undefined, domains: undefined } : null;
      if (!existing && !input.client_secret) throw invalid('client_secret is required when single sign-on is first configured', { field: 'client_secret' });
      // Whoever names the provider decides who signs in as the organization's people: the owners' call.
      const providerChanged = !existing || existing.issuer !== issuer || existing.client_id !== input.client_id;
      if (providerChanged || input.client_secret) await tenancy.requireOrganizationRole(actor, organizationId, 'owner');
      // The stored secret belongs to the provider it was given for: never sent to another one.
      if (providerChanged && !input.client_secret) throw invalid('a new issuer or client_id needs its client_secret', { field: 'client_secret', reason: 'secret_required' });
      const secret = input.client_secret ?? null;
      // Discovery with the secret about to be used; without a new secret the stored one stays.
      await oidc.discover({ issuer, clientId: input.client_id, clientSecret: secret ?? '' });

      const fields: store.ConfigFields = { preset, issuer, client_id: input.client_id, enforce: input.enforce ?? false, default_role: defaultRole };
      const sealed = secret ? { ...encryptSecret(ring, secret, ssoBinding(organizationId)), mask: maskSecret(secret) } : null;
      try {
        const view = await db.transaction().execute(async (trx) => {
          const claimed = await store.domainsClaimedElsewhere(trx, organizationId, domains);
          if (claimed.length) throw domainConflict(claimed.map((c) => c.domain));
          const row = await store.putConfig(trx, organizationId, fields, sealed);
          if (!row) throw notFound('single sign-on configuration');
          // The platform admin's domains are taken as proven; anyone else's wait for their DNS proof.
          await store.replaceDomains(trx, organizationId, domains, () => ({
            challenge: randomBytes(18).toString('base64url'), proven: actor.platformAdmin ? 'platform_admin' : null,
          }));
          const after = configView(row, await store.domainRowsOf(trx, organizationId));
          await audit.append(trx, actor, {
            workspaceId: null, organizationId, action: 'sso.configured', category: 'auth',
            severity: existing?.enforce && !fields.enforce ? 'warning' : 'info',
            resource: { type: 'organization', id: organizationId },
            before,
            // The mask is left out too: an audit entry holds nothing of a secret, only that it changed.
            after: { ...after, client_secret_mask: undefined, domains: undefined, organization_id: organizationId, credentials_replaced: secret !== null },
          });
          return after;
        });
        oidc.forget(organizationId);
        return view;
      } catch (err) {
        if (isViolation(err, 'unique')) throw domainConflict(domains);
        if (isViolation(err, 'foreignKey')) throw notFound('organization');
        throw err;
      }
    },

    /** Whether this email signs in to the organization through its provider (an invitation's page offers it), and must. */
    async signInFor(organizationId: string, email: string): Promise<{ available: boolean; enforced: boolean }> {
      const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
      const row = await store.configByDomain(db, domain);
      const available = row?.organization_id === organizationId;
      return { available, enforced: available && row.enforce };
    },

    /**
     * Whether password sign-in is closed to this person: the organizations that enforce single
     * sign-on among theirs. The platform admin's password always works (break-glass).
     */
    async passwordRefusedBy(user: { id: string; platform_admin: boolean }): Promise<string[]> {
      if (user.platform_admin) return [];
      // Workspace-only members of an enforcing organization are held to it too.
      return store.enforcingAmong(db, await tenancy.organizationsOfPerson(user.id));
    },

    ...createSsoSignIn({ ...deps, configOf: (id) => store.configOf(db, id) }),
  };
}
export type SsoService = ReturnType<typeof createSsoService>;

const domainConflict = (domains: string[]) =>
  conflict(`these domains already sign in to another organization: ${domains.join(', ')}`, { field: 'allowed_domains', reason: 'domain_taken', domains });
