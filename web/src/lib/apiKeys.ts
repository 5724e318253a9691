/** How the API Keys tab shows a key and turns its form into the API's body. */
import { z } from 'zod';
import { KNOWN_SCOPES } from '../../../src/modules/apikeys/scope-list';

/** Every scope a key can hold: the server's own list, bundled. */
export { KNOWN_SCOPES };

/** The scopes offered in the form: all of them (`*`), every family (`keys:*`), then each one. */
export const SCOPE_CHOICES: string[] = ['*', ...[...new Set(KNOWN_SCOPES.map((s) => `${s.split(':')[0]}:*`))], ...KNOWN_SCOPES];

export type KeyStatus = 'active' | 'rotating' | 'expired' | 'revoked';

export const STATUS_COLORS: Record<KeyStatus, string> = { active: 'teal.9', rotating: 'blue.9', expired: 'gray.8', revoked: 'red.9' };

/** The key as the table shows it: the stored start, then an ellipsis, never more. */
export const maskedKey = (start: string) => `${start}…`;

/** `100 / 60 s` reads as "100 requests per minute" once the window has a name. */
export function formatRateLimit(rate: { limit: number; window_s: number } | null): string {
  if (!rate) return 'none';
  const named: Record<number, string> = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day' };
  const per = named[rate.window_s] ?? `${rate.window_s} s`;
  return `${rate.limit.toLocaleString('en')} / ${per}`;
}

export const formatRemaining = (remaining: number | null) => (remaining === null ? 'unlimited' : remaining.toLocaleString('en'));

export { formatWhen } from './time';

/** Grace periods offered on rotation: how long the old key keeps working. */
export const GRACE_CHOICES = [
  { value: '0', label: 'None: revoke the old key now' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours (default)' },
  { value: '604800', label: '7 days' },
  { value: '2592000', label: '30 days' },
];

/** One entry per line or comma; blank entries dropped. The server checks each is an address or CIDR range. */
export const parseAllowList = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** What the new-key form holds, as the form's fields hold it (text and numbers, blanks for "not set"). */
export interface KeyFormValues {
  name: string;
  scopes: string[];
  /** A `datetime-local` value, read in UTC so the table and the form agree. */
  expires_at: string;
  rate_limit: number | '';
  rate_window_s: number | '';
  remaining: number | '';
  ip_allowlist: string;
}

const optionalCount = (max: number) => z.union([z.literal(''), z.number().int().min(1, 'at least 1').max(max, `at most ${max.toLocaleString('en')}`)]);

/** The form's rules, checked before the API is asked (which checks them again). */
export const keyFormSchema = z
  .object({
    name: z.string().trim().min(1, 'Give the key a name').max(200, 'At most 200 characters'),
    scopes: z.array(z.string()).min(1, 'Choose at least one scope'),
    expires_at: z.string(),
    rate_limit: optionalCount(1_000_000),
    rate_window_s: optionalCount(86_400),
    remaining: optionalCount(2_000_000_000),
    ip_allowlist: z.string(),
  })
  .superRefine((v, ctx) => {
    if ((v.rate_limit === '') !== (v.rate_window_s === '')) {
      ctx.addIssue({ code: 'custom', path: [v.rate_limit === '' ? 'rate_limit' : 'rate_window_s'], message: 'Give both the limit and the window, or neither' });
    }
    if (v.expires_at && !(new Date(`${v.expires_at}Z`).getTime() > Date.now())) {
      ctx.addIssue({ code: 'custom', path: ['expires_at'], message: 'The expiry must be in the future' });
    }
  });

export const EMPTY_KEY_FORM: KeyFormValues = { name: '', scopes: [], expires_at: '', rate_limit: '', rate_window_s: '', remaining: '', ip_allowlist: '' };

export interface CreateKeyBody {
  name: string;
  scopes: string[];
  expires_at?: string;
  rate_limit?: { limit: number; window_s: number };
  remaining?: number;
  ip_allowlist?: string[];
}

/** The API's body: unset fields left out (the API's defaults apply), the expiry as ISO-8601 UTC. */
export function toCreateKeyBody(v: KeyFormValues): CreateKeyBody {
  const body: CreateKeyBody = { name: v.name.trim(), scopes: v.scopes };
  if (v.expires_at) body.expires_at = new Date(`${v.expires_at}Z`).toISOString();
  if (v.rate_limit !== '' && v.rate_window_s !== '') body.rate_limit = { limit: v.rate_limit, window_s: v.rate_window_s };
  if (v.remaining !== '') body.remaining = v.remaining;
  const ips = parseAllowList(v.ip_allowlist);
  if (ips.length) body.ip_allowlist = ips;
  return body;
}

/** A short day label for the usage chart's axis: `2026-11-30` → `30 Nov`. */
export const dayLabel = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
