import { jsonLimitProblem, type JsonLimitProblem } from '../../lib/json-limits.js';
import { get, str } from '../providers/types.js';
import type { InboundProvider } from './kinds.js';

export interface Normalized {
  /** The provider's own name for what happened (for filters and display). */
  providerType: string | null;
  /** The Gatehouse events it becomes; none means it is ignored. */
  items: Array<{ type: string; data: unknown; context?: unknown }>;
  /** Set when the payload breaks the JSON limits: a permanent failure, never retried. */
  refused?: string;
}

/** Whether a body is read as JSON (everything but Twilio's form posts), at receipt and in processing alike. */
export const readsJson = (provider: InboundProvider, contentType: string | null) => !(provider === 'twilio' && contentType !== 'application/json');

export type PayloadRead = { ok: true; value: unknown } | { ok: false; problem: JsonLimitProblem | null };

/** The body as JSON within the limits every JSON body meets; `problem` null: not JSON at all. */
export function readJsonPayload(body: Buffer): PayloadRead {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, problem: null };
  }
  const problem = jsonLimitProblem(value);
  return problem ? { ok: false, problem } : { ok: true, value };
}

const EMAILBISON: Record<string, string> = {
  EMAIL_SENT: 'email.sent',
  MANUAL_EMAIL_SENT: 'email.sent',
  LEAD_FIRST_CONTACTED: 'lead.contacted',
  LEAD_REPLIED: 'lead.replied',
  UNTRACKED_REPLY_RECEIVED: 'lead.replied',
  LEAD_INTERESTED: 'lead.interested',
  LEAD_UNSUBSCRIBED: 'lead.unsubscribed',
  EMAIL_OPENED: 'email.opened',
  EMAIL_BOUNCED: 'email.bounced',
  EMAIL_ACCOUNT_ADDED: 'email_account.added',
  EMAIL_ACCOUNT_REMOVED: 'email_account.removed',
  EMAIL_ACCOUNT_DISCONNECTED: 'email_account.disconnected',
  EMAIL_ACCOUNT_RECONNECTED: 'email_account.reconnected',
};

const VAPI: Record<string, string> = { 'status-update': 'call.status', 'end-of-call-report': 'call.ended' };

const one = (providerType: string | null, type: string | undefined, data: unknown): Normalized => ({ providerType, items: type ? [{ type, data }] : [] });

function twilio(form: URLSearchParams): Normalized {
  const data = Object.fromEntries(form);
  const sms = form.get('SmsStatus') ?? form.get('MessageStatus');
  if (form.get('CallStatus')) return one(`call:${form.get('CallStatus')}`, 'call.status', data);
  if (sms === 'received' || (!sms && form.has('Body'))) return one('message:received', 'sms.received', data);
  if (sms) return one(`message:${sms}`, 'message.status', data);
  return one(null, undefined, data);
}

function whatsapp(payload: unknown): Normalized {
  const items: Normalized['items'] = [];
  const entries = get(payload, 'entry');
  for (const entry of Array.isArray(entries) ? entries : []) {
    const changes = get(entry, 'changes');
    for (const change of Array.isArray(changes) ? changes : []) {
      const value = get(change, 'value');
      const messages = get(value, 'messages');
      const statuses = get(value, 'statuses');
      // Each item goes out alone, with what the batch says about all of them (metadata, contacts).
      const { messages: _m, statuses: _s, ...context } = (value ?? {}) as Record<string, unknown>;
      for (const m of Array.isArray(messages) ? messages : []) items.push({ type: 'message.received', data: m, context });
      for (const s of Array.isArray(statuses) ? statuses : []) items.push({ type: 'message.status', data: s, context });
    }
  }
  return { providerType: str(get(entries, '0', 'changes', '0', 'field')) ?? null, items };
}

function vonage(payload: unknown): Normalized {
  const status = str(get(payload, 'status'));
  if (status) return one(`status:${status}`, 'message.status', payload);
  const channel = str(get(payload, 'channel'));
  if (!channel && !get(payload, 'message_type') && !get(payload, 'text')) return one(null, undefined, payload);
  return one(`inbound:${channel ?? 'sms'}`, channel && channel !== 'sms' ? 'message.received' : 'sms.received', payload);
}

/**
 * A provider's payload as Gatehouse events. Pure: the same body always gives the same events, so
 * a replay or a retry after a crash publishes the same thing.
 */
export function normalize(provider: InboundProvider, body: Buffer, contentType: string | null): Normalized {
  if (!readsJson(provider, contentType)) return twilio(new URLSearchParams(body.toString('utf8')));
  const read = readJsonPayload(body);
  // Stored before the limits held at receipt: walking it again would fail the same way every time.
  if (!read.ok && read.problem) return { providerType: null, items: [], refused: read.problem.message };
  if (!read.ok) return one(null, undefined, null);
  const payload = read.value;
  switch (provider) {
    case 'emailbison': {
      const type = str(get(payload, 'event', 'type'));
      return one(type ?? null, type ? EMAILBISON[type.toUpperCase()] : undefined, payload);
    }
    case 'twilio':
      return twilio(new URLSearchParams(Object.entries((payload ?? {}) as Record<string, string>).map(([k, v]) => [k, String(v)])));
    case 'whatsapp':
      return whatsapp(payload);
    case 'vonage':
      return vonage(payload);
    case 'vapi': {
      const type = str(get(payload, 'message', 'type'));
      return one(type ?? null, type ? VAPI[type] : undefined, payload);
    }
    default: {
      // standard, hmac, http: the payload names its type (the catalog decides whether it is known).
      const type = str(get(payload, 'type'));
      return one(type ?? null, type, payload);
    }
  }
}
