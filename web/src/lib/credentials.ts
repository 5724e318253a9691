/** The rules behind the credential forms: which fields show, what is required, what is sent. */
import { WARNING_COLOR } from './colors';
import { z } from 'zod';

export interface CatalogField { name: string; label: string; secret: boolean; required: boolean; description?: string; default?: string; options?: string[] }
export interface CatalogProvider { id: string; name: string; description: string; uses_instance: boolean; fields: CatalogField[]; test: string }
export interface StoredCredential { provider: string; fields: Record<string, string>; secrets: Record<string, { set: boolean; mask: string }> }

/** SMS providers share one form with a selector: a workspace usually has one of them. */
export const SMS_PROVIDERS = ['twilio', 'vonage', 'aws_sns'] as const;
export const isSms = (id: string) => (SMS_PROVIDERS as readonly string[]).includes(id);

export type Section = { kind: 'single'; provider: CatalogProvider } | { kind: 'sms'; providers: CatalogProvider[] };

/** The catalog as the page lays it out: catalog order, with the SMS providers as one section where the first of them is. */
export function sections(catalog: CatalogProvider[]): Section[] {
  const sms = catalog.filter((p) => isSms(p.id));
  const out: Section[] = [];
  for (const p of catalog) {
    if (isSms(p.id)) {
      if (p.id === sms[0].id) out.push({ kind: 'sms', providers: sms });
    } else out.push({ kind: 'single', provider: p });
  }
  return out;
}

// Generic HTTP: the fields each authentication type uses; the others are hidden and not sent.
const HTTP_AUTH_FIELDS: Record<string, string[]> = { none: [], bearer: ['token'], header: ['header_name', 'token'], basic: ['username', 'password'] };
const HTTP_AUTH_ONLY = new Set(['token', 'header_name', 'username', 'password']);

/** The fields a form shows for the values typed so far. */
export function visibleFields(provider: CatalogProvider, values: Record<string, string | undefined>): CatalogField[] {
  if (provider.id !== 'http') return provider.fields;
  const authType = values.auth_type || 'bearer';
  const used = new Set(HTTP_AUTH_FIELDS[authType] ?? []);
  return provider.fields.filter((f) => !HTTP_AUTH_ONLY.has(f.name) || used.has(f.name));
}

/** Required for this save: a required field with no stored value, or what the chosen HTTP auth type needs. */
export function isRequired(provider: CatalogProvider, field: CatalogField, stored: StoredCredential | undefined): boolean {
  const has = field.secret ? Boolean(stored?.secrets[field.name]?.set) : Boolean(stored?.fields[field.name]);
  if (has) return false;
  if (provider.id === 'http' && HTTP_AUTH_ONLY.has(field.name)) return true;
  return field.required;
}

/** The form's starting values: stored plain fields and defaults; secrets always empty. */
export function initialValues(provider: CatalogProvider, stored: StoredCredential | undefined): Record<string, string> {
  return Object.fromEntries(provider.fields.map((f) => [f.name, f.secret ? '' : (stored?.fields[f.name] ?? f.default ?? '')]));
}

/** Validation for one save, checked again by the API (which also refuses unknown fields). */
export function credentialSchema(provider: CatalogProvider, stored: StoredCredential | undefined) {
  return z.record(z.string(), z.string()).superRefine((values, ctx) => {
    for (const f of visibleFields(provider, values)) {
      const v = values[f.name]?.trim() ?? '';
      if (!v && isRequired(provider, f, stored)) ctx.addIssue({ code: 'custom', path: [f.name], message: `${f.label} is required` });
      if (v && f.options && !f.options.includes(v)) ctx.addIssue({ code: 'custom', path: [f.name], message: `${f.label} must be one of ${f.options.join(', ')}` });
      if (v && f.name === 'base_url' && !/^https?:\/\/\S+$/.test(v)) ctx.addIssue({ code: 'custom', path: [f.name], message: 'Base URL must start with http:// or https://' });
    }
  });
}

/**
 * The PUT body: the visible fields that hold something. A blank secret is left out, which the API
 * reads as "keep the stored one"; a secret is never sent back because it is never in the form.
 */
export function savePayload(provider: CatalogProvider, values: Record<string, string | undefined>): Record<string, string> {
  const body: Record<string, string> = {};
  for (const f of visibleFields(provider, values)) {
    const v = values[f.name]?.trim();
    if (v) body[f.name] = v;
  }
  return body;
}

export type CredentialStatus = 'active' | 'failing' | 'missing';

/** Missing without a stored credential; failing when its last call failed; active otherwise. */
export function credentialStatus(stored: StoredCredential | undefined, health: { status: string; consecutive_failures: number } | undefined): CredentialStatus {
  if (!stored) return 'missing';
  if (health && (health.status === 'failing' || health.consecutive_failures > 0)) return 'failing';
  return 'active';
}

export const STATUS_COLORS: Record<CredentialStatus, string> = { active: 'teal.9', failing: 'red.9', missing: 'gray.8' };

export interface TestResult { ok: boolean; status_code: number | null; latency_ms: number; detail: string }

/** One line for a test-connection result: status, latency, and what the provider said. */
export function describeTest(r: TestResult): string {
  const status = r.status_code === null ? 'no response' : `HTTP ${r.status_code}`;
  return `${status} · ${r.latency_ms} ms · ${r.detail}`;
}

/** Green when it worked, orange when it worked slowly (over 2 s), red when it did not. */
export function testColor(r: TestResult): string {
  if (!r.ok) return 'red.9';
  return r.latency_ms > 2000 ? WARNING_COLOR : 'teal.9';
}

export interface SyncResult { fetched: number; unique: number; provider_total: number | null; duplicates: number; pages: number; status: string }

export const describeSync = (s: SyncResult) =>
  `${s.fetched} fetched / ${s.unique} unique / ${s.provider_total ?? 'unknown'} provider total / ${s.duplicates} duplicates (${s.pages} pages, ${s.status})`;
