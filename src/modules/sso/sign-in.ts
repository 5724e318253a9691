import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { systemActor, type Actor } from '../../http/actor.js';
import { limitedSource } from '../../http/client-ip.js';
import { decryptSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { AppError, invalid, notFound } from '../../lib/errors.js';
import type { RateLimiter } from '../apikeys/ratelimit.js';
import type { AuditService } from '../audit/service.js';
import type { FailureSummary } from '../auth/failures.js';
import type { SessionStore } from '../auth/sessions.js';
import type { Oidc } from './oidc.js';
import * as store from './store.js';
import { ssoBinding, type SsoTenancy } from './types.js';

/** A sign-in attempt is good for this long: enough to sign in at the provider, not to linger. */
const ATTEMPT_S = 600;
const CALLBACK_PATH = '/v1/auth/sso/callback';
const START_ROUTE = 'GET /v1/auth/sso/start';
const CALLBACK_ROUTE = `GET ${CALLBACK_PATH}`;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export interface SignInDeps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  oidc: Oidc;
  tenancy: SsoTenancy;
  sessions: Pick<SessionStore, 'open'>;
  failures: Pick<FailureSummary, 'note'>;
  limiter: RateLimiter;
  /** Sign-in starts per address per minute (the password sign-in's limit). */
  perIpLimit: number;
  /** Gatehouse's own address: the callback the provider sends the browser back to. */
  publicUrl: string;
  configOf: (organizationId: string) => Promise<store.SsoConfigRow | undefined>;
}

export type CallbackOutcome =
  | { kind: 'login'; token: string; organizationId: string }
  | { kind: 'test'; report: { ok: true; organization_id: string; claims: Record<string, unknown>; domain_verified: boolean } }
  | { kind: 'refused'; purpose: 'login' | 'test' | null; error: AppError };

const refusal = (reason: string, message: string, status: 'unauthenticated' | 'forbidden' = 'unauthenticated', extra: Record<string, unknown> = {}) =>
  new AppError(status, message, { reason, ...extra });

export function createSsoSignIn({ db, ring, audit, oidc, tenancy, sessions, failures, limiter, perIpLimit, publicUrl, configOf }: SignInDeps) {
  const redirectUri = `${publicUrl}${CALLBACK_PATH}`;

  async function configurationOf(row: store.SsoConfigRow) {
    const clientSecret = decryptSecret(ring, row, ssoBinding(row.organization_id));
    try {
      return await oidc.configurationFor(row.organization_id, row.updated_at.toISOString(), { issuer: row.issuer, clientId: row.client_id, clientSecret });
    } catch (err) {
      // Saved once as working: failing now is the provider's side (or the network), not the request's.
      if (err instanceof AppError) throw new AppError('upstream_failed', err.message, { reason: 'discovery_failed' });
      throw err;
    }
  }

  /** A new attempt: state, nonce and PKCE verifier kept server-side, single use, for ATTEMPT_S. */
  async function begin(row: store.SsoConfigRow, purpose: 'login' | 'test', opts: { browserHash: string | null; createdBy: string | null; loginHint?: string }) {
    const flow = await oidc.authorizationUrl(await configurationOf(row), redirectUri, opts.loginHint);
    const expiresAt = new Date(Date.now() + ATTEMPT_S * 1000);
    await store.deleteExpiredAttempts(db);
    await store.insertAttempt(db, {
      state_hash: sha256(flow.state), organization_id: row.organization_id, purpose, nonce: flow.nonce, code_verifier: flow.codeVerifier,
      browser_hash: opts.browserHash, created_by: opts.createdBy, expires_at: expiresAt,
    });
    return { url: flow.url, expires_at: expiresAt.toISOString() };
  }

  /** The checks Gatehouse adds to the library's: a verified email of one of the organization's domains. */
  async function personClaims(claims: Record<string, unknown>, organizationId: string, purpose: 'login' | 'test') {
    const email = typeof claims.email === 'string' ? claims.email.trim() : '';
    if (!email.includes('@')) throw refusal('email_missing', 'the identity provider sent no email address (ask for the email scope / claim)', 'forbidden');
    if (email.length > 320 || !/^[^\s@\x00-\x1f]+@[A-Za-z0-9.-]+$/.test(email)) throw refusal('email_missing', 'the identity provider sent an email address Gatehouse cannot use', 'forbidden');
    if (claims.email_verified === false) throw refusal('email_unverified', 'the identity provider says this email address is not verified', 'forbidden', { email });
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    // A sign-in only for a proven domain: an unproven claim must not let a provider speak for another's
    // people. A trial opens no session, so it may run before the proof (and says whether there is one).
    const rows = await store.domainRowsOf(db, organizationId);
    const claim = rows.find((r) => r.domain === domain && (purpose === 'test' || r.verified_at !== null));
    if (!claim) throw refusal('domain_not_allowed', `${domain} is not one of the organization's proven single sign-on domains`, 'forbidden', { email });
    const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 200) : email.slice(0, email.indexOf('@'));
    return { email, name, domainVerified: claim.verified_at !== null };
  }

  /**
   * The person the email names. A provider an organization configures speaks for that organization's
   * people only: an existing account is signed in only if it is of this organization and of no other
   * (else this organization's provider would open sessions reaching another tenant's workspaces) and
   * is not the platform admin. Anyone else is made just in time, with the default role.
   */
  async function personFor(actor: Actor, row: store.SsoConfigRow, who: { email: string; name: string }) {
    const found = await tenancy.findPersonByEmail(who.email);
    if (found) {
      if (found.platform_admin) throw refusal('platform_admin', "the platform admin signs in with a password, never through an organization's provider", 'forbidden');
      const orgs = await tenancy.organizationsOfPerson(found.id);
      if (!orgs.includes(row.organization_id)) {
        throw refusal('account_elsewhere', 'an account with this email exists outside this organization: ask an administrator to invite it', 'forbidden');
      }
      if (orgs.length > 1) throw refusal('several_organizations', 'this account belongs to several organizations: sign in with its password', 'forbidden');
      // Someone already of the organization keeps what they were given: the default role would widen a
      // person invited to one workspace to all of them.
      return found.id;
    }
    // Just-in-time sign-up acts for the organization's configuration, not for the (not yet existing) person.
    const provisioner: Actor = { ...systemActor(actor.requestId), ip: actor.ip, userAgent: actor.userAgent };
    return db.transaction().execute(async (trx) => {
      const { id } = await tenancy.createPerson(trx, provisioner, { email: who.email, name: who.name, passwordHash: null });
      await tenancy.joinOrganization(trx, provisioner, row.organization_id, id, row.default_role);
      return id;
    });
  }

  return {
    /** Where an email's organization signs in: the provider's authorization URL, and the browser's binding cookie value. */
    async start(actor: Actor, email: string) {
      const at = email.lastIndexOf('@');
      const domain = email.slice(at + 1).trim().toLowerCase();
      if (at < 1 || !/^[a-z0-9.-]{1,253}$/.test(domain)) throw invalid('enter an email address', { field: 'email' });
      const limit = await limiter.consume(`sso:ip:${limitedSource(actor.ip)}`, perIpLimit, 60);
      if (!limit.allowed) {
        failures.note(actor, { reason: 'address_attempts', route: START_ROUTE, limited: true });
        throw new AppError('rate_limited', 'too many sign-in attempts: wait a moment and try again', { reason: 'address_attempts' });
      }
      const row = await store.configByDomain(db, domain);
      if (!row) {
        failures.note(actor, { reason: 'sso_not_configured', route: START_ROUTE });
        throw new AppError('not_found', 'no organization signs in with single sign-on for this email domain', { reason: 'sso_not_configured' });
      }
      const browserToken = randomBytes(24).toString('base64url');
      const started = await begin(row, 'login', { browserHash: sha256(browserToken), createdBy: null, loginHint: email.trim() });
      await audit.record(actor, {
        workspaceId: null, organizationId: row.organization_id, action: 'auth.sso_started', category: 'auth', resource: { type: 'organization', id: row.organization_id },
        after: { organization_id: row.organization_id, email: email.trim() },
      });
      return { ...started, browserToken };
    },

    /** An admin's trial of the configuration: the callback reports the claims and opens no session. */
    async startTest(actor: Actor, organizationId: string) {
      await tenancy.requireOrganizationRole(actor, organizationId, 'admin');
      const row = await configOf(organizationId);
      if (!row) throw notFound('single sign-on configuration');
      const started = await begin(row, 'test', { browserHash: null, createdBy: actor.id });
      await audit.record(actor, {
        workspaceId: null, organizationId, action: 'sso.test_started', category: 'auth', resource: { type: 'organization', id: organizationId }, after: { organization_id: organizationId },
      });
      return started;
    },

    /**
     * The provider's answer. The attempt is taken (and spent) by its state first, so a replay finds
     * nothing; a login attempt must come back to the browser that started it; then the library
     * exchanges the code and checks the ID token. Refusals are returned, not thrown, with the
     * attempt's purpose, so the route answers a browser or an admin's trial in its own way.
     */
    async callback(actor: Actor, params: Record<string, string>, browserToken: string | undefined): Promise<CallbackOutcome> {
      const attempt = params.state ? await store.takeAttempt(db, sha256(params.state)) : undefined;
      if (!attempt) {
        failures.note(actor, { reason: params.state ? 'sso_state_invalid' : 'sso_state_missing', route: CALLBACK_ROUTE });
        return { kind: 'refused', purpose: null, error: refusal('state_invalid', 'this sign-in has been used already or has expired: start again') };
      }
      const organizationId = attempt.organization_id;
      const refused = async (error: AppError, email?: string): Promise<CallbackOutcome> => {
        await audit.record(actor, {
          workspaceId: null, organizationId, action: attempt.purpose === 'test' ? 'sso.test' : 'auth.sso_login_failed', category: 'auth', severity: 'warning', outcome: 'failure',
          resource: { type: 'organization', id: organizationId },
          after: { organization_id: organizationId, reason: error.details?.reason ?? error.code, message: error.message, ...(email ? { email } : {}) },
        });
        return { kind: 'refused', purpose: attempt.purpose, error };
      };
      if (attempt.purpose === 'login' && (!browserToken || sha256(browserToken) !== attempt.browser_hash)) {
        return refused(refusal('browser_mismatch', 'this sign-in was started in another browser: start again here'));
      }
      if (params.error) {
        // The provider's error code, as printable text only (it reaches the audit log).
        const code = params.error.replace(/[^\x20-\x7e]/g, '').slice(0, 100);
        return refused(refusal('provider_error', `the identity provider did not sign you in: ${code}`, 'unauthenticated', { error: code }));
      }
      const row = await configOf(organizationId);
      if (!row) return refused(refusal('sso_not_configured', 'single sign-on is no longer configured for this organization'));
      let who: { email: string; name: string; domainVerified: boolean };
      let claims: Record<string, unknown>;
      try {
        const url = new URL(redirectUri);
        url.search = new URLSearchParams(params).toString();
        claims = await oidc.exchange(await configurationOf(row), url, { state: params.state, nonce: attempt.nonce, codeVerifier: attempt.code_verifier });
        who = await personClaims(claims, organizationId, attempt.purpose);
      } catch (err) {
        if (err instanceof AppError) return refused(err, typeof (err.details?.email) === 'string' ? err.details.email : undefined);
        throw err;
      }
      if (attempt.purpose === 'test') {
        const seen = Object.fromEntries(['iss', 'sub', 'aud', 'email', 'email_verified', 'name'].filter((k) => k in claims).map((k) => [k, claims[k]]));
        await audit.record(actor, {
          workspaceId: null, organizationId, action: 'sso.test', category: 'auth', resource: { type: 'organization', id: organizationId },
          after: { organization_id: organizationId, email: who.email, tested_by: attempt.created_by },
        });
        return { kind: 'test', report: { ok: true, organization_id: organizationId, claims: seen, domain_verified: who.domainVerified } };
      }
      let userId: string;
      try {
        userId = await personFor(actor, row, who);
      } catch (err) {
        // A full organization (seats) or a person tenancy refuses: told to the browser like any refusal.
        if (err instanceof AppError) return refused(err, who.email);
        throw err;
      }
      const { token } = await sessions.open(userId, actor.ip, actor.userAgent);
      await audit.record({ ...actor, type: 'user', id: userId }, {
        workspaceId: null, organizationId, action: 'auth.sso_login', category: 'auth', resource: { type: 'user', id: userId },
        after: { organization_id: organizationId, email: who.email, issuer: row.issuer },
      });
      return { kind: 'login', token, organizationId };
    },
  };
}
