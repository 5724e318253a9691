import createFetchClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema.js';

export interface ClientOptions {
  /** Where Gatehouse answers, e.g. `https://gatehouse.example.com` (no `/v1`). */
  baseUrl: string;
  /** A `gate_live_…` or `gate_test_…` key, sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Headers for every request (a tracing header, say). */
  headers?: Record<string, string>;
  /** Another fetch (a test double, a runtime's own). */
  fetch?: (request: Request) => Promise<Response>;
}

export type GatehouseClient = Client<paths>;

/**
 * A client typed from Gatehouse's OpenAPI document: paths, parameters, bodies and answers.
 * `const { data, error } = await gatehouse.GET('/v1/workspaces/{id}', { params: { path: { id } } })`.
 */
export function createClient({ baseUrl, apiKey, headers, fetch }: ClientOptions): GatehouseClient {
  if (!apiKey) throw new TypeError('createClient needs an apiKey');
  return createFetchClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: { ...headers, authorization: `Bearer ${apiKey}` },
    ...(fetch ? { fetch } : {}),
  });
}
