import { get, str, type ProviderDef } from '../types.js';

export const whatsapp: ProviderDef = {
  id: 'whatsapp',
  name: 'WhatsApp Cloud',
  description: "Meta's WhatsApp Cloud API on the Graph API; Bearer access token.",
  fields: [
    { name: 'phone_number_id', label: 'Phone number id', secret: false, required: true },
    { name: 'business_account_id', label: 'Business account id', secret: false, required: true },
    { name: 'access_token', label: 'Access token', secret: true, required: true },
    { name: 'app_secret', label: 'App secret', secret: true, required: false, description: 'verifies X-Hub-Signature-256 on webhooks' },
    { name: 'verify_token', label: 'Verify token', secret: true, required: false, description: 'answers the webhook GET handshake' },
    { name: 'base_url', label: 'Graph API base URL', secret: false, url: true, required: false, default: 'https://graph.facebook.com/v21.0' },
  ],
  keyField: 'access_token',
  identityField: 'phone_number_id',
  baseUrl: (c) => c.fields.base_url || 'https://graph.facebook.com/v21.0',
  sign: (req, c) => {
    req.headers.authorization = `Bearer ${c.secrets.access_token}`;
  },
  test: {
    path: (c) => `/${encodeURIComponent(c.fields.phone_number_id)}?fields=verified_name,display_phone_number,quality_rating`,
    describe: 'GET the phone number (verified name, quality rating)',
  },
  describeSuccess: (body) => {
    const name = str(get(body, 'verified_name'));
    const quality = str(get(body, 'quality_rating'));
    return name ? `${name}${quality ? `, quality ${quality}` : ''}` : 'authenticated';
  },
  // {error: {message, type: "OAuthException", code: 190}} — 190 is a bad or expired token.
  errorMessage: (_s, body) => {
    const message = str(get(body, 'error', 'message'));
    const code = get(body, 'error', 'code');
    return message ? (code === 190 ? `access token invalid or expired: ${message}` : message) : undefined;
  },
  inbound: { scheme: 'meta', secretField: 'app_secret', verifyTokenField: 'verify_token' },
};
