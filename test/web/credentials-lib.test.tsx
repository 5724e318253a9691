// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { WARNING_COLOR } from '../../web/src/lib/colors';
import { credentialSchema, credentialStatus, describeSync, describeTest, initialValues, savePayload, sections, testColor, visibleFields, type CatalogProvider, type StoredCredential } from '../../web/src/lib/credentials';

const field = (name: string, secret = false, required = false, extra: object = {}) => ({ name, label: name.replace('_', ' '), secret, required, ...extra });
const provider = (id: string, fields: CatalogProvider['fields']): CatalogProvider => ({ id, name: id, description: '', uses_instance: id === 'emailbison', fields, test: '' });
const bison = provider('emailbison', [field('instance', false, true), field('api_key', true, true), field('provider_workspace_id')]);
const http = provider('http', [
  field('base_url', false, true), field('auth_type', false, true, { options: ['none', 'bearer', 'header', 'basic'], default: 'bearer' }),
  field('token', true), field('header_name'), field('username'), field('password', true), field('test_path', false, false, { default: '/' }),
]);
const stored: StoredCredential = { provider: 'emailbison', fields: { instance: 'ins_1', provider_workspace_id: '7' }, secrets: { api_key: { set: true, mask: '12|a***wxyz' } } };
const errorsOf = (r: ReturnType<ReturnType<typeof credentialSchema>['safeParse']>) => (r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));

describe('the credential form rules', () => {
  test('a stored secret never reaches the form: it starts empty, plain fields start with their stored values', () => {
    expect(initialValues(bison, stored)).toEqual({ instance: 'ins_1', api_key: '', provider_workspace_id: '7' });
    expect(initialValues(http, undefined)).toMatchObject({ auth_type: 'bearer', test_path: '/', token: '' });
  });

  test('a blank secret is left out of the save, so the API keeps the stored one', () => {
    expect(savePayload(bison, { instance: 'ins_1', api_key: '  ', provider_workspace_id: '7' })).toEqual({ instance: 'ins_1', provider_workspace_id: '7' });
    expect(savePayload(bison, { instance: 'ins_1', api_key: ' 12|new ', provider_workspace_id: '' })).toEqual({ instance: 'ins_1', api_key: '12|new' });
  });

  test('a required secret is required only while none is stored', () => {
    const blank = { instance: 'ins_1', api_key: '', provider_workspace_id: '' };
    expect(errorsOf(credentialSchema(bison, undefined).safeParse(blank))).toEqual(['api_key: api key is required']);
    expect(errorsOf(credentialSchema(bison, stored).safeParse(blank))).toEqual([]);
  });

  test('generic HTTP shows and sends only the fields of its auth type', () => {
    const names = (auth: string) => visibleFields(http, { auth_type: auth }).map((f) => f.name);
    expect(names('none')).toEqual(['base_url', 'auth_type', 'test_path']);
    expect(names('bearer')).toEqual(['base_url', 'auth_type', 'token', 'test_path']);
    expect(names('header')).toEqual(['base_url', 'auth_type', 'token', 'header_name', 'test_path']);
    expect(names('basic')).toEqual(['base_url', 'auth_type', 'username', 'password', 'test_path']);
    const values = { base_url: 'https://x.example', auth_type: 'basic', token: 'left over', username: 'u', password: 'p', header_name: 'h', test_path: '/' };
    expect(savePayload(http, values)).toEqual({ base_url: 'https://x.example', auth_type: 'basic', username: 'u', password: 'p', test_path: '/' });
    expect(errorsOf(credentialSchema(http, undefined).safeParse({ ...values, username: '', password: '' }))).toEqual(['username: username is required', 'password: password is required']);
    expect(errorsOf(credentialSchema(http, undefined).safeParse({ ...values, base_url: 'ftp://x' }))).toEqual(['base_url: Base URL must start with http:// or https://']);
  });

  test('the SMS providers form one section where the first of them is; the rest keep catalog order', () => {
    const catalog = ['emailbison', 'twilio', 'vonage', 'whatsapp', 'aws_sns', 'n8n'].map((id) => provider(id, []));
    expect(sections(catalog).map((s) => (s.kind === 'sms' ? `sms:${s.providers.map((p) => p.id).join(',')}` : s.provider.id))).toEqual(['emailbison', 'sms:twilio,vonage,aws_sns', 'whatsapp', 'n8n']);
  });
});

describe('status and results', () => {
  test('missing without a credential, failing after a failed call, active otherwise', () => {
    expect(credentialStatus(undefined, { status: 'healthy', consecutive_failures: 0 })).toBe('missing');
    expect(credentialStatus(stored, undefined)).toBe('active');
    expect(credentialStatus(stored, { status: 'healthy', consecutive_failures: 0 })).toBe('active');
    expect(credentialStatus(stored, { status: 'degraded', consecutive_failures: 1 })).toBe('failing');
    expect(credentialStatus(stored, { status: 'failing', consecutive_failures: 0 })).toBe('failing');
  });

  test('a test result: status, latency and the message; coloured by outcome and speed', () => {
    expect(describeTest({ ok: true, status_code: 200, latency_ms: 41, detail: 'authenticated as a@b.example' })).toBe('HTTP 200 · 41 ms · authenticated as a@b.example');
    expect(describeTest({ ok: false, status_code: null, latency_ms: 5000, detail: 'no answer: timeout' })).toBe('no response · 5000 ms · no answer: timeout');
    expect(testColor({ ok: true, status_code: 200, latency_ms: 2000, detail: '' })).toBe('teal.9');
    expect(testColor({ ok: true, status_code: 200, latency_ms: 2001, detail: '' })).toBe(WARNING_COLOR);
    expect(testColor({ ok: false, status_code: 401, latency_ms: 10, detail: '' })).toBe('red.9');
  });

  test('a sync result names its four counts', () => {
    expect(describeSync({ fetched: 21, unique: 20, provider_total: null, duplicates: 1, pages: 2, status: 'ok' })).toBe('21 fetched / 20 unique / unknown provider total / 1 duplicates (2 pages, ok)');
  });
});
