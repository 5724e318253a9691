import { get, str, type ProviderDef } from '../types.js';

export const emailbison: ProviderDef = {
  id: 'emailbison',
  name: 'Email Bison',
  description: "A self-hosted Email Bison instance; the credential is the workspace's api-user token (Bearer ID|secret).",
  usesInstance: true,
  fields: [
    { name: 'instance', label: 'Instance', secret: false, required: true, description: 'provider instance id or name (POST /v1/instances)' },
    { name: 'api_key', label: 'API token', secret: true, required: true, description: "the workspace's api-user token, ID|secret" },
    { name: 'provider_workspace_id', label: 'Email Bison workspace id', secret: false, required: false, description: 'the team id on the instance' },
  ],
  keyField: 'api_key',
  identityField: 'provider_workspace_id',
  // The instance is a required field, resolved to its base URL whenever the credential is opened.
  baseUrl: (c) => c.instanceBaseUrl!,
  sign: (req, c) => {
    req.headers.authorization = `Bearer ${c.secrets.api_key}`;
  },
  test: { path: () => '/users', describe: 'GET /api/users (the authenticated user)' },
  describeSuccess: (body) => {
    const user = get(body, 'data') ?? body;
    const who = str(get(user, 'email')) ?? str(get(user, 'name'));
    return who ? `authenticated as ${who}` : 'authenticated';
  },
  errorMessage: (_s, body) => str(get(body, 'message')) ?? str(get(body, 'data', 'message')) ?? str(get(body, 'error')),
  // Email Bison documents no webhook signature: the unguessable URL and the payload's workspace id stand in.
  inbound: { scheme: 'unsigned', note: 'no signature is documented; the receiving URL is the secret and event.workspace_id is checked' },
};
