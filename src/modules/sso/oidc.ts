import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { AppError } from '../../lib/errors.js';
import { assertPublicTarget, assertPublicUrl, guardedLookup } from '../../lib/ssrf.js';

/**
 * OpenID Connect through openid-client: discovery, the authorization URL (PKCE, state, nonce) and
 * the code exchange, whose ID-token checks (signature, issuer, audience, expiry, nonce) are the
 * library's. The issuer is chosen by a tenant, so every request it leads to (discovery, JWKS, token,
 * userinfo) goes through the one outbound address policy: https only, public addresses only, both
 * relaxed only by GATEHOUSE_ALLOW_PRIVATE_TARGETS, and re-checked at connect time.
 */

const TIMEOUT_S = 10;
// Discovery documents, key sets and token answers are a few KB: an issuer a tenant names sends no more than this.
const MAX_BODY_BYTES = 512 * 1024;
// Statuses whose Response may not carry a body.
const NULL_BODY = new Set([101, 204, 205, 304]);
// Discovered metadata and keys are kept a while: a sign-in is then one token call, not three.
const CACHE_MS = 10 * 60_000;

export interface IssuerClient {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

export interface StartedFlow {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

const refusedIssuer = (message: string, reason: string) => new AppError('validation_failed', message, { field: 'issuer', reason });

export function createOidc({ allowPrivateTargets }: { allowPrivateTargets: boolean }) {
  const agent = new Agent({ connect: { lookup: guardedLookup(allowPrivateTargets) } });
  const cache = new Map<string, { config: client.Configuration; version: string; at: number }>();

  /** https, or http on a local test provider when private targets are allowed. */
  function checkScheme(url: URL) {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && allowPrivateTargets) return;
    throw refusedIssuer(`the issuer must be an https:// URL (http:// only with GATEHOUSE_ALLOW_PRIVATE_TARGETS, for local test providers): ${url.protocol}`, 'https_required');
  }

  // Every request openid-client makes for this issuer; redirects are never followed (the library asks for `manual`).
  const guardedFetch: client.CustomFetch = async (input, options) => {
    const url = new URL(input);
    checkScheme(url);
    // An IP literal is connected to without a lookup, so the connect-time guard cannot see it.
    assertPublicUrl(url, allowPrivateTargets, 'issuer');
    const res = await undiciFetch(url, { ...options, redirect: 'manual', dispatcher: agent } as Parameters<typeof undiciFetch>[1]);
    // Read here, within a cap, so an issuer cannot make this process buffer whatever it sends.
    const body = await readCapped(res.body as unknown as Body | null, url);
    return new Response(NULL_BODY.has(res.status) ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers as unknown as Headers });
  };

  type Body = AsyncIterable<Uint8Array>;
  async function readCapped(stream: Body | null, url: URL): Promise<string> {
    // Every answer on this path is JSON (or a form error): text is all openid-client reads.
    if (!stream) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += chunk.length;
      // Throwing inside the loop ends the iteration, which cancels the stream: nothing more is read.
      if (size > MAX_BODY_BYTES) {
        throw new AppError('validation_failed', `${url.origin}${url.pathname} answered with more than ${MAX_BODY_BYTES / 1024} KB`, { field: 'issuer', reason: 'response_too_large' });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Checks an issuer as typed, before anything is fetched from it. */
  async function checkIssuer(issuer: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(issuer);
    } catch {
      throw refusedIssuer('the issuer is not a URL', 'not_a_url');
    }
    checkScheme(url);
    if (url.search || url.hash || url.username || url.password) throw refusedIssuer('the issuer has no query, fragment or credentials', 'not_an_issuer');
    await assertPublicTarget(url, { allowPrivate: allowPrivateTargets, field: 'issuer' });
    return url;
  }

  async function discover(c: IssuerClient): Promise<client.Configuration> {
    const url = await checkIssuer(c.issuer);
    try {
      const config = await client.discovery(url, c.clientId, c.clientSecret, undefined, {
        [client.customFetch]: guardedFetch,
        execute: url.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: TIMEOUT_S,
      });
      config.timeout = TIMEOUT_S;
      return config;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('validation_failed', `the issuer's OpenID configuration could not be read: ${messageOf(err)}`, { field: 'issuer', reason: 'discovery_failed' });
    }
  }

  /** The issuer's configuration, from the cache when `version` (the stored config's update time) is unchanged. */
  async function configurationFor(key: string, version: string, c: IssuerClient) {
    const hit = cache.get(key);
    if (hit && hit.version === version && hit.at > Date.now() - CACHE_MS) return hit.config;
    const config = await discover(c);
    cache.set(key, { config, version, at: Date.now() });
    return config;
  }

  return {
    checkIssuer,
    /** Fetches the issuer's metadata now: a configuration that cannot sign anyone in is refused when saved. */
    discover,
    configurationFor,
    forget: (key: string) => cache.delete(key),

    async authorizationUrl(config: client.Configuration, redirectUri: string, loginHint?: string): Promise<StartedFlow> {
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        ...(loginHint ? { login_hint: loginHint } : {}),
      });
      return { url: url.href, state, nonce, codeVerifier };
    },

    /**
     * The code exchanged and the ID token checked by the library (state, nonce, PKCE); the claims
     * of the ID token, completed from userinfo when the token carries no email (providers that
     * conform to the spec send scope claims there).
     */
    async exchange(config: client.Configuration, callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }) {
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.codeVerifier,
          idTokenExpected: true,
        });
      } catch (err) {
        throw new AppError('unauthenticated', `the identity provider's answer was refused: ${messageOf(err)}`, { reason: 'id_token_invalid' });
      }
      const claims = tokens.claims();
      if (!claims) throw new AppError('unauthenticated', 'the identity provider sent no ID token', { reason: 'id_token_invalid' });
      let merged: Record<string, unknown> = { ...claims };
      if (typeof claims.email !== 'string' && tokens.access_token && config.serverMetadata().userinfo_endpoint) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
          merged = { ...info, ...claims, email: info.email, email_verified: info.email_verified, name: claims.name ?? info.name };
        } catch (err) {
          throw new AppError('unauthenticated', `the identity provider's userinfo could not be read: ${messageOf(err)}`, { reason: 'userinfo_failed' });
        }
      }
      return merged;
    },

    close: () => agent.close(),
  };
}
export type Oidc = ReturnType<typeof createOidc>;

/** The library's message, without anything of a response body beyond its error code. */
function messageOf(err: unknown): string {
  if (err instanceof AppError) return err.message;
  // A refusal of our own fetch (an answer too large), wrapped by the library: its words, not the wrapper's.
  if (err instanceof Error && err.cause instanceof AppError) return err.cause.message;
  const e = err as { message?: string; code?: string; error?: string; cause?: { code?: string; message?: string } };
  if (e.error) return `${e.error}${e.code ? ` (${e.code})` : ''}`;
  // A failed ID-token check: the library's own cause names the claim (nonce, iss, aud…), which tells an admin what went wrong.
  if (err instanceof Error && err.cause instanceof Error && /claim/.test(err.cause.message)) return `${err.message}: ${err.cause.message}`.slice(0, 300);
  const cause = e.cause?.code === 'EPRIVATETARGET' || e.cause?.message?.includes('are refused') ? ` (${e.cause.message ?? 'a private address'})` : '';
  return `${e.message ?? 'failed'}${cause}`.slice(0, 300);
}
