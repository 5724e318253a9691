import { get, str, type ProviderDef } from '../types.js';

export const vapi: ProviderDef = {
  id: 'vapi',
  name: 'Vapi',
  description: 'Voice AI calls; Bearer API key.',
  fields: [
    { name: 'api_key', label: 'API key', secret: true, required: true },
    { name: 'server_secret', label: 'Server secret', secret: true, required: false, description: 'arrives as X-Vapi-Secret on webhooks' },
    { name: 'base_url', label: 'API base URL', secret: false, url: true, required: false, default: 'https://api.vapi.ai' },
  ],
  keyField: 'api_key',
  baseUrl: (c) => c.fields.base_url || 'https://api.vapi.ai',
  sign: (req, c) => {
    req.headers.authorization = `Bearer ${c.secrets.api_key}`;
  },
  test: { path: () => '/assistant?limit=1', describe: 'GET /assistant?limit=1' },
  describeSuccess: () => 'API key accepted',
  errorMessage: (_s, body) => str(get(body, 'message')) ?? str(get(body, 'error')),
  inbound: { scheme: 'vapi', header: 'x-vapi-secret' },
};
