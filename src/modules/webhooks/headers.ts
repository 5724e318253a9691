import type { Executor } from '../../db/types.js';
import { decryptSecret, encryptSecret, maskSecret, type MasterKeyRing, type Sealed } from '../../lib/envelope.js';
import * as store from './store.js';

/**
 * An endpoint's custom header values are credentials as often as not (an API key a receiver wants),
 * so they are sealed like auth_token: all of an endpoint's values as one JSON object, its own data
 * key, bound to the endpoint. Views and attempt logs show only masks; the worker opens them to send.
 */

// Bound to the endpoint: a sealed header set copied to another endpoint's row does not open.
export const headersBinding = (endpointId: string) => `endpoint:${endpointId}|headers`;

export const maskHeaders = (h: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, maskSecret(v)]));

export const openHeaders = (ring: MasterKeyRing, endpointId: string, row: Sealed): Record<string, string> =>
  JSON.parse(decryptSecret(ring, row, headersBinding(endpointId))) as Record<string, string>;

/** Replaces an endpoint's header values with `headers` (none: the row goes); returns their masks. */
export async function putHeaders(trx: Executor, ring: MasterKeyRing, endpointId: string, headers: Record<string, string>) {
  if (Object.keys(headers).length === 0) {
    await store.deleteSealedHeaders(trx, endpointId);
    return {};
  }
  const sealed = encryptSecret(ring, JSON.stringify(headers), headersBinding(endpointId));
  const masks = maskHeaders(headers);
  await store.putSealedHeaders(trx, endpointId, sealed, masks);
  return masks;
}

/** The header values an endpoint sends: sealed ones over any still held in plain text from before they were sealed. */
export async function readHeaders(trx: Executor, ring: MasterKeyRing, endpointId: string, plaintext: Record<string, string>) {
  const row = await store.getSealedHeaders(trx, endpointId);
  return { ...plaintext, ...(row ? openHeaders(ring, endpointId, row) : {}) };
}
