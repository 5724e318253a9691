import type { webhooks } from './schema.js';

type BodyOf<W> = W extends { post: { requestBody: { content: { 'application/json': infer B } } } } ? B : never;

/** Every event type of Gatehouse's catalog. */
export type EventType = keyof webhooks;

/** The body a receiver is sent for one catalogued type: `{type, timestamp, data}`, `data` typed for Gatehouse's own events. */
export type EventMessage<T extends EventType = EventType> = { [K in T]: BodyOf<webhooks[K]> }[T];

/** The `data` of one catalogued type. */
export type EventPayload<T extends EventType> = EventMessage<T>['data'];

/** What any delivery holds: a catalogued type, or one the workspace registered itself. */
export interface WebhookMessage {
  type: string;
  /** When the event was accepted (ISO-8601, UTC). */
  timestamp: string;
  data: unknown;
}

/** Narrows a verified message to one type: `if (isEvent(message, 'gatehouse.endpoint.disabled')) message.data.reason`. */
export function isEvent<T extends EventType>(message: WebhookMessage, type: T): message is WebhookMessage & EventMessage<T> {
  return message.type === type;
}
