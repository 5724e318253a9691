// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { formatWhen } from '../../web/src/lib/time';
import { actorFilterValue, actorLabel, auditParams, diffAudit, localToIso } from '../../web/src/lib/audit';

describe('the audit query string', () => {
  test('blank filters are left out; times are read as UTC; extras are added', () => {
    const p = auditParams({ workspace_id: null, actor: ' usr_1 ', action: '', resource_type: 'api_key', resource_id: '', from: '2026-11-30T09:15', to: '' }, { format: 'csv' });
    expect(Object.fromEntries(p)).toEqual({ actor: 'usr_1', resource_type: 'api_key', from: '2026-11-30T09:15:00.000Z', format: 'csv' });
  });
  test('the list and the export differ only by their extras', () => {
    const f = { workspace_id: 'ws_1', action: 'key.*', to: '2026-12-01T00:00' };
    const list = auditParams(f, { limit: '100' });
    const csv = auditParams(f, { format: 'csv' });
    list.delete('limit');
    csv.delete('format');
    expect(list.toString()).toBe(csv.toString());
    expect(list.get('workspace_id')).toBe('ws_1');
  });
  test('an unreadable time is dropped rather than sent', () => {
    expect(localToIso('not a date')).toBeUndefined();
    expect(localToIso('')).toBeUndefined();
    expect(localToIso('2026-01-02T03:04:05')).toBe('2026-01-02T03:04:05.000Z');
  });
});

describe('before and after', () => {
  test('a creation: every field added, nested objects as dotted paths, arrays as JSON', () => {
    expect(diffAudit(null, { name: 'k', scopes: ['a', 'b'], rate_limit: { limit: 5, window_s: 60 }, expires_at: null })).toEqual([
      { path: 'expires_at', before: undefined, after: 'null', change: 'added' },
      { path: 'name', before: undefined, after: 'k', change: 'added' },
      { path: 'rate_limit.limit', before: undefined, after: '5', change: 'added' },
      { path: 'rate_limit.window_s', before: undefined, after: '60', change: 'added' },
      { path: 'scopes', before: undefined, after: '["a","b"]', change: 'added' },
    ]);
  });
  test('a change: changed, same and removed fields told apart', () => {
    const rows = diffAudit({ status: 'active', name: 'k', old: 1 }, { status: 'revoked', name: 'k' });
    expect(rows.map((r) => [r.path, r.change])).toEqual([['name', 'same'], ['old', 'removed'], ['status', 'changed']]);
  });
  test('nothing recorded: no rows; a bare value is one row', () => {
    expect(diffAudit(null, null)).toEqual([]);
    expect(diffAudit(undefined, 'x')).toEqual([{ path: '(value)', before: undefined, after: 'x', change: 'added' }]);
  });
});

describe('naming actors', () => {
  const emails = new Map([['usr_me', 'me@example.com'], ['usr_2', 'two@example.com']]);
  test('known people by email, you marked; others by type and id', () => {
    expect(actorLabel({ type: 'user', id: 'usr_me' }, emails, 'usr_me')).toBe('me@example.com (you)');
    expect(actorLabel({ type: 'user', id: 'usr_2' }, emails, 'usr_me')).toBe('two@example.com');
    expect(actorLabel({ type: 'key', id: 'key_9' }, emails, 'usr_me')).toBe('key key_9');
    expect(actorLabel({ type: 'system', id: null }, emails)).toBe('system');
    expect(actorLabel({ type: 'system', id: 'system' }, emails)).toBe('system');
  });
  test('the actor filter turns a known email into the id the API filters on, anything else passes through', () => {
    expect(actorFilterValue(' ME@example.com ', emails)).toBe('usr_me');
    expect(actorFilterValue('key_9', emails)).toBe('key_9');
  });
});

describe('times', () => {
  test('in UTC whatever the browser’s zone, with seconds where asked, and a word for none', () => {
    expect(formatWhen('2026-11-30T13:58:04.120Z')).toBe('30 Nov 2026, 13:58 UTC');
    expect(formatWhen('2026-11-30T13:58:04.120Z', '', true)).toBe('30 Nov 2026, 13:58:04 UTC');
    expect(formatWhen(null)).toBe('never');
    expect(formatWhen(null, '–')).toBe('–');
  });
});
