/**
 * Identity providers whose issuer shape and claims are known. A preset only checks the issuer an
 * organization gives against the provider's pattern; the sign-in itself is the same OpenID Connect
 * code flow for every issuer.
 */
export type PresetName = 'google' | 'microsoft' | 'okta';

export interface Preset {
  name: PresetName;
  label: string;
  /** The issuer as the provider's documentation writes it, with the parts an organization fills in. */
  issuer_pattern: string;
  /** The ID token (or userinfo) claims Gatehouse reads. */
  claims: { email: string; email_verified: string | null; name: string };
  notes: string;
}

export const PRESETS: Record<PresetName, Preset & { matches: RegExp }> = {
  google: {
    name: 'google',
    label: 'Google Workspace',
    issuer_pattern: 'https://accounts.google.com',
    matches: /^https:\/\/accounts\.google\.com$/,
    claims: { email: 'email', email_verified: 'email_verified', name: 'name' },
    notes: 'limit allowed_domains to your Workspace domains: any Google account can sign in to Google',
  },
  microsoft: {
    name: 'microsoft',
    label: 'Microsoft Entra ID',
    issuer_pattern: 'https://login.microsoftonline.com/{tenant}/v2.0',
    // A tenant's own id or domain: the multi-tenant `common` / `organizations` endpoints issue
    // tokens whose issuer names each tenant, which no fixed issuer matches.
    matches: /^https:\/\/login\.microsoftonline\.com\/(?!common\/|organizations\/|consumers\/)[A-Za-z0-9.-]+\/v2\.0$/,
    claims: { email: 'email', email_verified: null, name: 'name' },
    notes: 'add the optional `email` claim to the ID token in the app registration; Entra sends no email_verified',
  },
  okta: {
    name: 'okta',
    label: 'Okta',
    issuer_pattern: 'https://{domain}.okta.com or https://{domain}.okta.com/oauth2/default',
    matches: /^https:\/\/[a-z0-9-]+\.(okta|oktapreview)\.com(\/oauth2\/[A-Za-z0-9]+)?$/,
    claims: { email: 'email', email_verified: 'email_verified', name: 'name' },
    notes: 'the org authorization server or a custom one (e.g. /oauth2/default)',
  },
};

export const presetList = () => Object.values(PRESETS).map(({ matches: _m, ...p }) => p);
