import { get, str, type ProviderDef } from '../types.js';

export const http: ProviderDef = {
  id: 'http',
  name: 'Generic HTTP',
  description: 'Any HTTP API: a base URL and none, bearer, header or basic authentication.',
  fields: [
    { name: 'base_url', label: 'Base URL', secret: false, url: true, required: true },
    { name: 'auth_type', label: 'Authentication', secret: false, required: true, options: ['none', 'bearer', 'header', 'basic'], default: 'bearer' },
    { name: 'token', label: 'Token', secret: true, required: false, description: 'bearer token, or the header value' },
    { name: 'header_name', label: 'Header name', secret: false, required: false, description: 'for auth_type header' },
    { name: 'username', label: 'Username', secret: false, required: false },
    { name: 'password', label: 'Password', secret: true, required: false },
    { name: 'test_path', label: 'Test path', secret: false, required: false, default: '/', description: 'a cheap GET that needs authentication' },
  ],
  keyField: 'token',
  baseUrl: (c) => c.fields.base_url,
  sign: (req, c) => {
    const type = c.fields.auth_type || 'bearer';
    if (type === 'bearer') req.headers.authorization = `Bearer ${c.secrets.token ?? ''}`;
    if (type === 'header') req.headers[(c.fields.header_name || 'x-api-key').toLowerCase()] = c.secrets.token ?? '';
    if (type === 'basic') req.headers.authorization = `Basic ${Buffer.from(`${c.fields.username ?? ''}:${c.secrets.password ?? ''}`).toString('base64')}`;
  },
  test: { path: (c) => c.fields.test_path || '/', describe: 'GET the configured test path' },
  describeSuccess: () => 'reachable and accepted',
  errorMessage: (_s, body) => str(get(body, 'message')) ?? str(get(body, 'error', 'message')) ?? str(get(body, 'error')),
  inbound: { scheme: 'hmac', note: 'use a generic HMAC-SHA256 or Standard Webhooks inbound source' },
};
