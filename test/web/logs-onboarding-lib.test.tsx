// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { WARNING_COLOR } from '../../web/src/lib/colors';
import { filterProblem, localToIso, logQuery, NO_FILTERS, statusColor } from '../../web/src/lib/apiLogs';
import { firstOpen, nextAction, tabLink } from '../../web/src/lib/onboarding';

describe('the API Logs filters', () => {
  test('a local date-time becomes the UTC instant the API wants', () => {
    const local = '2026-03-01T10:30';
    expect(localToIso(local)).toBe(new Date(2026, 2, 1, 10, 30).toISOString());
    expect(localToIso('')).toBeUndefined();
    expect(localToIso('not a date')).toBeUndefined();
  });

  test('the list and the export share one query; empty filters are left out', () => {
    expect(logQuery(NO_FILTERS).toString()).toBe('');
    const q = logQuery({ status: '401', provider: 'emailbison', from: '2026-03-01T10:30', to: '', error: '' }, { format: 'csv', cursor: undefined });
    expect(Object.fromEntries(q)).toEqual({ status: '401', provider: 'emailbison', from: new Date(2026, 2, 1, 10, 30).toISOString(), format: 'csv' });
    // The error text goes as typed, trimmed; blank is no filter.
    expect(logQuery({ ...NO_FILTERS, error: '  unauthorized ' }).toString()).toBe('error=unauthorized');
    expect(logQuery({ ...NO_FILTERS, error: '   ' }).toString()).toBe('');
  });

  test('a range that ends before it starts is named, not sent', () => {
    expect(filterProblem({ ...NO_FILTERS, from: '2026-03-02T00:00', to: '2026-03-01T00:00' })).toBe('From is after To');
    expect(filterProblem({ ...NO_FILTERS, from: '2026-03-01T00:00', to: '2026-03-02T00:00' })).toBeNull();
    expect(filterProblem({ ...NO_FILTERS, to: 'garbage' })).toBe('To is not a date and time');
  });

  test('status colours: 2xx teal, 4xx orange, 5xx and no answer red', () => {
    expect([200, 204, 401, 429, 500, 503, null].map(statusColor)).toEqual(['teal.9', 'teal.9', WARNING_COLOR, WARNING_COLOR, 'red.9', 'red.9', 'red.9']);
  });
});

describe('the onboarding next steps', () => {
  const step = (id: string, done: boolean) => ({ id, label: id, done, detail: '' });

  test('each unmet step points at the tab that does it; a done or unknown step at nothing', () => {
    expect(nextAction(step('credential_stored', false))).toMatchObject({ tab: 'credentials', tabLabel: 'Credentials' });
    expect(nextAction(step('inbound_configured', false))).toMatchObject({ tab: 'inbound', tabLabel: 'Inbound' });
    expect(nextAction(step('first_sync', false))?.text).toContain('Sync sender emails');
    expect(nextAction(step('credential_stored', true))).toBeNull();
    expect(nextAction(step('something_new', false))).toBeNull();
  });

  test('the first open step is the next one; links are the tab routes', () => {
    expect(firstOpen([step('a', true), step('b', false), step('c', false)])?.id).toBe('b');
    expect(firstOpen([step('a', true)])).toBeNull();
    expect(tabLink('ws_1', 'credentials')).toBe('/workspaces/ws_1/credentials');
  });
});

test('the warning colour passes WCAG AA contrast (4.5:1) on white and on a striped row', () => {
  const luminance = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a: string, b: string) => (Math.max(luminance(a), luminance(b)) + 0.05) / (Math.min(luminance(a), luminance(b)) + 0.05);
  expect(contrast(WARNING_COLOR, '#ffffff')).toBeGreaterThanOrEqual(4.5);
  expect(contrast(WARNING_COLOR, '#f8f9fa')).toBeGreaterThanOrEqual(4.5);
});
