import { get, str, type ProviderDef } from '../types.js';

export const n8n: ProviderDef = {
  id: 'n8n',
  name: 'n8n',
  description: 'An n8n instance; its public API takes X-N8N-API-KEY.',
  fields: [
    { name: 'base_url', label: 'Base URL', secret: false, url: true, required: true, description: 'e.g. https://n8n.example.com' },
    { name: 'api_key', label: 'API key', secret: true, required: true },
  ],
  keyField: 'api_key',
  baseUrl: (c) => c.fields.base_url,
  sign: (req, c) => {
    req.headers['x-n8n-api-key'] = c.secrets.api_key;
  },
  test: { path: () => '/api/v1/workflows?limit=1', describe: 'GET /api/v1/workflows?limit=1' },
  describeSuccess: () => 'API key accepted',
  errorMessage: (_s, body) => str(get(body, 'message')),
  inbound: { scheme: 'hmac', note: 'n8n sends what its workflow is told to: use a generic HMAC or Standard Webhooks source' },
};
