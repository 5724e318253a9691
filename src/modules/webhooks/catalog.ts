import type { Executor } from '../../db/types.js';
import * as store from './store.js';

/** Built-in event types: what an outreach platform and Gatehouse itself emit. */
export const BUILT_IN_EVENT_TYPES: ReadonlyArray<{ name: string; description: string }> = [
  { name: 'campaign.sent', description: 'a campaign started sending' },
  { name: 'campaign.completed', description: 'a campaign finished' },
  { name: 'campaign.paused', description: 'a campaign was paused' },
  { name: 'lead.created', description: 'a lead was added' },
  { name: 'lead.updated', description: "a lead's data changed" },
  { name: 'lead.replied', description: 'a lead replied' },
  { name: 'lead.unsubscribed', description: 'a lead unsubscribed' },
  { name: 'lead.interested', description: 'a lead was marked interested' },
  { name: 'meeting.booked', description: 'a meeting was booked' },
  { name: 'meeting.completed', description: 'a meeting took place' },
  { name: 'meeting.cancelled', description: 'a meeting was cancelled' },
  { name: 'email.sent', description: 'an email was sent' },
  { name: 'email.opened', description: 'an email was opened' },
  { name: 'email.clicked', description: 'a link in an email was clicked' },
  { name: 'email.bounced', description: 'an email bounced' },
  { name: 'lead.contacted', description: 'a lead was contacted for the first time' },
  { name: 'email_account.added', description: 'a sending account was added' },
  { name: 'email_account.removed', description: 'a sending account was removed' },
  { name: 'email_account.disconnected', description: 'a sending account lost its connection' },
  { name: 'email_account.reconnected', description: 'a sending account is connected again' },
  { name: 'sms.received', description: 'an SMS arrived (Twilio, Vonage)' },
  { name: 'message.received', description: 'a message arrived on a messaging channel (WhatsApp, Vonage Messages)' },
  { name: 'message.status', description: "a sent message's status changed (queued, sent, delivered, read, failed…)" },
  { name: 'call.status', description: "a call's status changed" },
  { name: 'call.ended', description: 'a call ended, with its report' },
  { name: 'gatehouse.key.revoked', description: 'a Gatehouse API key was revoked' },
  { name: 'gatehouse.credential.failing', description: "a workspace's provider credential failed 3 times in a row" },
  { name: 'gatehouse.credential.recovered', description: 'a failing credential works again' },
  { name: 'gatehouse.endpoint.disabled', description: 'a webhook endpoint was disabled (410 Gone, or failing too long)' },
  { name: 'gatehouse.inbound.silent', description: 'an inbound source that usually receives has been silent too long' },
  { name: 'gatehouse.webhook.test', description: 'a test message sent from POST /v1/webhooks/:id/test' },
];
const BUILT_IN = new Set(BUILT_IN_EVENT_TYPES.map((t) => t.name));

/** Gatehouse's own namespace: only Gatehouse emits these. */
export const isReserved = (type: string) => type.startsWith('gatehouse.');

export const TYPE_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$';
/** An endpoint's filter entry: an exact type, `prefix.*`, or `*` for everything. */
export const FILTER_PATTERN = '^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$';

export async function isKnownType(db: Executor, workspaceId: string, type: string): Promise<boolean> {
  if (BUILT_IN.has(type)) return true;
  return store.hasEventType(db, workspaceId, type);
}

export async function listTypes(db: Executor, workspaceId: string | null) {
  const custom = workspaceId ? await store.listEventTypes(db, workspaceId) : [];
  return [
    ...BUILT_IN_EVENT_TYPES.map((t) => ({ name: t.name, description: t.description, built_in: true })),
    ...custom.map((t) => ({ name: t.name, description: t.description, built_in: false })),
  ];
}
