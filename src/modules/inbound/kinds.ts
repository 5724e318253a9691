import { randomBytes } from 'node:crypto';
import { generateSecret, isValidSecret } from '../webhooks/signing.js';
import type { Scheme } from './verify.js';

/** Wakes the processing workers: new or replayed events are waiting. */
export const INBOUND_CHANNEL = 'gatehouse_inbound';

export const INBOUND_PROVIDERS = ['standard', 'hmac', 'twilio', 'whatsapp', 'vonage', 'vapi', 'emailbison', 'http'] as const;
export type InboundProvider = (typeof INBOUND_PROVIDERS)[number];

export interface InboundKind {
  scheme: Scheme;
  /** generated: Gatehouse picks it when none is given (shown once); required: the provider's own; optional: a shared token. */
  secret: 'generated' | 'required' | 'optional';
  /** What the secret is called at the provider, for error messages. */
  secretName: string;
  /** Accepted content types (null: any). */
  contentTypes: readonly string[] | null;
}

const JSON_ONLY = ['application/json'] as const;

export const KINDS: Record<InboundProvider, InboundKind> = {
  standard: { scheme: 'standard', secret: 'generated', secretName: 'signing secret (whsec_…)', contentTypes: JSON_ONLY },
  hmac: { scheme: 'hmac', secret: 'generated', secretName: 'HMAC secret', contentTypes: JSON_ONLY },
  twilio: { scheme: 'twilio', secret: 'required', secretName: 'Twilio auth token', contentTypes: ['application/x-www-form-urlencoded', 'application/json'] },
  whatsapp: { scheme: 'meta', secret: 'required', secretName: 'Meta app secret', contentTypes: JSON_ONLY },
  vonage: { scheme: 'vonage_jwt', secret: 'required', secretName: 'Vonage signature secret', contentTypes: JSON_ONLY },
  vapi: { scheme: 'vapi', secret: 'required', secretName: 'Vapi server secret', contentTypes: JSON_ONLY },
  emailbison: { scheme: 'unsigned', secret: 'optional', secretName: 'shared token', contentTypes: JSON_ONLY },
  http: { scheme: 'unsigned', secret: 'optional', secretName: 'shared token', contentTypes: null },
};

/** A secret Gatehouse picks: Standard Webhooks' format for `standard`, 32 random bytes otherwise. */
export const pickSecret = (provider: InboundProvider) =>
  provider === 'standard' ? generateSecret() : randomBytes(32).toString('base64url');

export function secretProblem(provider: InboundProvider, secret: string): string | null {
  if (provider === 'standard' && !isValidSecret(secret)) return 'secret must be whsec_ + base64 of 24 to 64 bytes';
  if (secret.length < 8) return 'secret must be at least 8 characters';
  return null;
}

/** The source's id is its receiving URL's only credential for unsigned providers: 160 random bits. */
export const newSourceId = () => `src_${randomBytes(20).toString('base64url').replace(/[-_]/g, (c) => (c === '-' ? 'x' : 'z'))}`;
export const SOURCE_ID = /^src_[A-Za-z0-9]{27}$/;
