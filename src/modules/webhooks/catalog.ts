import { Type, type Static, type TSchema } from 'typebox';
import type { Executor } from '../../db/types.js';
import * as store from './store.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const CredentialHealth = Type.Object({
  workspace_id: Type.String(), provider: Type.String(), consecutive_failures: Type.Integer(),
  status_code: Nullable(Type.Integer()), error: Nullable(Type.String()),
});

/**
 * The `data` of the events Gatehouse itself emits: emitters build them through `ownEvent`, and
 * /openapi.json documents them (its `webhooks`), which the SDK's types are generated from.
 */
export const OWN_EVENT_PAYLOADS = {
  'gatehouse.credential.failing': CredentialHealth,
  'gatehouse.credential.recovered': CredentialHealth,
  'gatehouse.endpoint.disabled': Type.Object({
    endpoint_id: Type.String(), url: Type.String(), reason: Type.String(),
    last_status: Nullable(Type.Integer()), last_error: Nullable(Type.String()),
  }),
  'gatehouse.inbound.silent': Type.Object({
    source: Type.Object({ id: Type.String(), provider: Type.String(), name: Type.String() }),
    last_received_at: Type.String({ format: 'date-time' }), silent_for_s: Type.Integer(), silent_after_s: Type.Integer(),
  }),
} as const;
type OwnEventType = keyof typeof OWN_EVENT_PAYLOADS;

/** One of Gatehouse's own events, its payload checked against the catalog by the compiler. */
export const ownEvent = <T extends OwnEventType>(type: T, payload: Static<(typeof OWN_EVENT_PAYLOADS)[T]>) => ({ type, payload });

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

/** What a receiver is sent, per built-in type: the OpenAPI 3.1 `webhooks` of /openapi.json. */
export function catalogWebhooks() {
  return Object.fromEntries(BUILT_IN_EVENT_TYPES.map(({ name, description }) => {
    const data = OWN_EVENT_PAYLOADS[name as OwnEventType] ?? Type.Unknown({ description: 'the payload the event was sent with, or, from an inbound source, {inbound_event_id, source, provider_type, received_at, data, context?}' });
    // Plain JSON, as the document is served (a TypeBox schema's type is not OpenAPI's).
    const schema = JSON.parse(JSON.stringify(Type.Object({ type: Type.Literal(name), timestamp: Type.String({ format: 'date-time' }), data })));
    return [name, {
      post: {
        summary: description,
        description: 'Signed with Standard Webhooks: webhook-id (the same for every attempt), webhook-timestamp, webhook-signature.',
        requestBody: { required: true, content: { 'application/json': { schema } } },
        responses: { '200': { description: 'any 2xx: received' } },
      },
    }];
  }));
}

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
