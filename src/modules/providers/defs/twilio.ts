import { get, str, type ProviderDef } from '../types.js';

export const twilio: ProviderDef = {
  id: 'twilio',
  name: 'Twilio',
  description: 'SMS and voice; HTTP Basic with the Account SID and auth token.',
  fields: [
    { name: 'account_sid', label: 'Account SID', secret: false, required: true },
    { name: 'auth_token', label: 'Auth token', secret: true, required: true },
    { name: 'base_url', label: 'API base URL', secret: false, url: true, required: false, default: 'https://api.twilio.com' },
  ],
  keyField: 'auth_token',
  identityField: 'account_sid',
  baseUrl: (c) => c.fields.base_url || 'https://api.twilio.com',
  sign: (req, c) => {
    req.headers.authorization = `Basic ${Buffer.from(`${c.fields.account_sid}:${c.secrets.auth_token}`).toString('base64')}`;
  },
  test: { path: (c) => `/2010-04-01/Accounts/${encodeURIComponent(c.fields.account_sid)}.json`, describe: 'GET the account (status active/suspended/closed)' },
  describeSuccess: (body) => `account ${str(get(body, 'friendly_name')) ?? ''} is ${str(get(body, 'status')) ?? 'reachable'}`.replace('  ', ' '),
  // Twilio errors: {code: 20003, message: "Authenticate", more_info}
  errorMessage: (_s, body) => {
    const message = str(get(body, 'message'));
    const code = get(body, 'code');
    return message ? (code ? `${message} (Twilio error ${code})` : message) : undefined;
  },
  inbound: { scheme: 'twilio', secretField: 'auth_token' },
};
