import aws4 from 'aws4';
import { type ProviderDef } from '../types.js';

export const awsSns: ProviderDef = {
  id: 'aws_sns',
  name: 'AWS SNS',
  description: 'SMS through Amazon SNS; requests are signed with SigV4 (aws4).',
  fields: [
    { name: 'access_key_id', label: 'Access key id', secret: false, required: true },
    { name: 'secret_access_key', label: 'Secret access key', secret: true, required: true },
    { name: 'region', label: 'Region', secret: false, required: true, default: 'us-east-1' },
    { name: 'base_url', label: 'Endpoint', secret: false, url: true, required: false, description: 'defaults to https://sns.<region>.amazonaws.com' },
  ],
  keyField: 'secret_access_key',
  identityField: 'access_key_id',
  baseUrl: (c) => c.fields.base_url || `https://sns.${c.fields.region}.amazonaws.com`,
  sign: (req, c) => {
    const signed = aws4.sign(
      {
        host: req.url.host,
        path: req.url.pathname + req.url.search,
        method: req.method,
        headers: { ...req.headers },
        body: req.body,
        service: 'sns',
        region: c.fields.region,
      },
      { accessKeyId: c.fields.access_key_id, secretAccessKey: c.secrets.secret_access_key },
    );
    for (const [k, v] of Object.entries(signed.headers ?? {})) {
      if (k.toLowerCase() !== 'host' && k.toLowerCase() !== 'content-length') req.headers[k.toLowerCase()] = String(v);
    }
  },
  test: { path: () => '/?Action=GetSMSAttributes&Version=2010-03-31', describe: 'GetSMSAttributes (signed)' },
  describeSuccess: () => 'signature accepted',
  // SNS answers errors in XML: <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>
  errorMessage: (_s, body) => (typeof body === 'string' ? /<Message>([^<]*)<\/Message>/.exec(body)?.[1] : undefined),
  inbound: { scheme: 'sns', note: 'SNS signs with its own certificate; subscribe an HTTPS endpoint' },
};
