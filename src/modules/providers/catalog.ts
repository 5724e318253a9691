import { AppError } from '../../lib/errors.js';
import { awsSns } from './defs/aws-sns.js';
import { emailbison } from './defs/emailbison.js';
import { http } from './defs/http.js';
import { n8n } from './defs/n8n.js';
import { twilio } from './defs/twilio.js';
import { vapi } from './defs/vapi.js';
import { vonage } from './defs/vonage.js';
import { whatsapp } from './defs/whatsapp.js';
import { PROVIDER_IDS, type ProviderDef, type ProviderId } from './types.js';

const PROVIDERS: Record<ProviderId, ProviderDef> = { emailbison, twilio, vonage, whatsapp, aws_sns: awsSns, n8n, vapi, http };

export const isProviderId = (id: string): id is ProviderId => (PROVIDER_IDS as readonly string[]).includes(id);

export function providerById(id: string): ProviderDef {
  if (!isProviderId(id)) throw new AppError('not_found', `unknown provider ${JSON.stringify(id)}`, { known: [...PROVIDER_IDS] });
  return PROVIDERS[id];
}

/** The public catalog: what each provider needs and how it is tested; nothing about any credential. */
export const catalogView = () =>
  PROVIDER_IDS.map((id) => {
    const p = PROVIDERS[id];
    return {
      id: p.id,
      name: p.name,
      description: p.description,
      uses_instance: p.usesInstance ?? false,
      fields: p.fields.map((f) => ({ ...f, options: f.options ? [...f.options] : undefined })),
      test: p.test.describe,
      inbound_verification: p.inbound.scheme,
    };
  });
