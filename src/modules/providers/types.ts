/** Provider ids as the contract fixes them. */
export const PROVIDER_IDS = ['emailbison', 'twilio', 'vonage', 'whatsapp', 'aws_sns', 'n8n', 'vapi', 'http'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export interface FieldSpec {
  name: string;
  label: string;
  secret: boolean;
  required: boolean;
  description?: string;
  default?: string;
  options?: readonly string[];
  /** An outbound base URL: it must pass the outbound address policy when set (src/lib/ssrf.ts). */
  url?: boolean;
}

/** Decrypted credential material, as a provider needs it to sign a request. */
export interface CredentialMaterial {
  fields: Readonly<Record<string, string>>;
  secrets: Readonly<Record<string, string>>;
  /** Email Bison: the instance's base URL (ends in /api). */
  instanceBaseUrl?: string;
}

export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** How a provider's inbound webhooks prove where they come from (used by the inbound receiver). */
export type InboundScheme =
  | { scheme: 'unsigned'; note: string }
  | { scheme: 'twilio'; secretField: 'auth_token' }
  | { scheme: 'meta'; secretField: 'app_secret'; verifyTokenField: 'verify_token' }
  | { scheme: 'vonage_jwt'; secretField: 'signature_secret' }
  | { scheme: 'vapi'; header: 'x-vapi-secret' }
  | { scheme: 'sns'; note: string }
  | { scheme: 'hmac'; note: string };

export interface ProviderDef {
  id: ProviderId;
  name: string;
  description: string;
  fields: readonly FieldSpec[];
  /** True when the credential names a provider instance (self-hosted deployments). */
  usesInstance?: boolean;
  /** The secret whose last 4 characters identify the key in the call log. */
  keyField: string;
  /**
   * The field that names the account at the provider (a team, an account SID): one workspace only
   * may hold a given value (per instance), or two workspaces would read and write one account.
   */
  identityField?: string;
  baseUrl(c: CredentialMaterial): string;
  /** Adds authentication to a request (headers, or query parameters for providers that want them). */
  sign(req: OutgoingRequest, c: CredentialMaterial): void;
  test: { path(c: CredentialMaterial): string; describe: string };
  /** A line for the test-connection result, from a successful response. */
  describeSuccess(body: unknown): string;
  /** The provider's own error message, when its error body carries one. */
  errorMessage(status: number, body: unknown): string | undefined;
  inbound: InboundScheme;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
export const get = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);
