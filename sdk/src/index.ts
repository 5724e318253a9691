export { createClient, type ClientOptions, type GatehouseClient } from './client.js';
export { ApiError, apiErrorOf, unwrap } from './errors.js';
export { isEvent, type EventMessage, type EventPayload, type EventType, type WebhookMessage } from './events.js';
export type { components, paths, webhooks } from './schema.js';
export { verifyWebhook, WebhookVerificationError, type HeadersLike, type VerifyWebhookOptions, type WebhookVerificationCode } from './webhooks.js';
