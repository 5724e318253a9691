/** Inbound sources and events as the Inbound tab shows them. */

export const INBOUND_PROVIDERS = ['standard', 'hmac', 'twilio', 'whatsapp', 'vonage', 'vapi', 'emailbison', 'http'] as const;
export type InboundProvider = (typeof INBOUND_PROVIDERS)[number];

export interface InboundKind {
  label: string;
  /** generated: Gatehouse picks it (shown once); required: the provider's own; optional: a shared token. */
  secret: 'generated' | 'required' | 'optional';
  secretLabel: string;
}

// Mirrors the server's kinds (src/modules/inbound/kinds.ts); the server checks again whatever the form sends.
export const INBOUND_KINDS: Record<InboundProvider, InboundKind> = {
  standard: { label: 'Standard Webhooks', secret: 'generated', secretLabel: 'Signing secret' },
  hmac: { label: 'Generic HMAC', secret: 'generated', secretLabel: 'HMAC secret' },
  twilio: { label: 'Twilio', secret: 'required', secretLabel: 'Twilio auth token' },
  whatsapp: { label: 'WhatsApp Cloud', secret: 'required', secretLabel: 'Meta app secret' },
  vonage: { label: 'Vonage', secret: 'required', secretLabel: 'Vonage signature secret' },
  vapi: { label: 'Vapi', secret: 'required', secretLabel: 'Vapi server secret' },
  emailbison: { label: 'Email Bison', secret: 'optional', secretLabel: 'Shared token' },
  http: { label: 'Generic HTTP', secret: 'optional', secretLabel: 'Shared token' },
};

export const kindOf = (provider: string): InboundKind | undefined => INBOUND_KINDS[provider as InboundProvider];

/** Whether the add/rotate forms ask for a secret; `generated` kinds never do (Gatehouse picks a strong one). */
export const asksForSecret = (provider: string): boolean => kindOf(provider)?.secret !== 'generated';

/** The body as stored, made readable: JSON indented, a form body as its fields, anything else as is. */
export function prettyBody(body: string, contentType: string | null | undefined): string {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    return JSON.stringify(Object.fromEntries(new URLSearchParams(body)), null, 2);
  }
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

export const EVENT_STATUSES = ['pending', 'processing', 'processed', 'ignored', 'failed'] as const;
export const EVENT_STATUS_COLOURS: Record<string, string> = { pending: 'yellow.9', processing: 'yellow.9', processed: 'teal.9', ignored: 'gray.8', failed: 'red.9' };

/** Whether the list should keep refreshing: something is still on its way through the worker. */
export const anyInFlight = (events: Array<{ status: string }>): boolean => events.some((e) => e.status === 'pending' || e.status === 'processing');
