import { get, str, type ProviderDef } from '../types.js';

export const vonage: ProviderDef = {
  id: 'vonage',
  name: 'Vonage',
  description: 'SMS and voice; the account and SMS APIs take the API key and secret as parameters.',
  fields: [
    { name: 'api_key', label: 'API key', secret: false, required: true },
    { name: 'api_secret', label: 'API secret', secret: true, required: true },
    { name: 'signature_secret', label: 'Signature secret', secret: true, required: false, description: 'verifies signed webhooks (JWT)' },
    { name: 'base_url', label: 'API base URL', secret: false, url: true, required: false, default: 'https://rest.nexmo.com' },
  ],
  keyField: 'api_secret',
  identityField: 'api_key',
  baseUrl: (c) => c.fields.base_url || 'https://rest.nexmo.com',
  sign: (req, c) => {
    req.url.searchParams.set('api_key', c.fields.api_key);
    req.url.searchParams.set('api_secret', c.secrets.api_secret);
  },
  test: { path: () => '/account/get-balance', describe: 'GET /account/get-balance' },
  describeSuccess: (body) => {
    const value = get(body, 'value');
    return typeof value === 'number' ? `balance ${value.toFixed(2)}` : 'authenticated';
  },
  errorMessage: (_s, body) => str(get(body, 'error-code-label')) ?? str(get(body, 'title')) ?? str(get(body, 'detail')),
  inbound: { scheme: 'vonage_jwt', secretField: 'signature_secret' },
};
