// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { WARNING_COLOR } from '../../web/src/lib/colors';
import {
  allInstances, callsToday, credentialColour, filterFleet, maskKey, needsAttention, NO_FILTER, rateColour, successRate, timeAgo, webhookRate24h, webhookState,
  type WorkspaceSummary,
} from '../../web/src/lib/fleet';

const ws = (id: string, over: Partial<WorkspaceSummary> = {}): WorkspaceSummary => ({
  id, name: `Workspace ${id}`, organization_id: 'org_1', status: 'active', test_mode: false, health: 'healthy',
  credentials: [], key: null, calls_today: { calls: 0, errors: 0 },
  webhooks: { endpoints: 0, enabled: 0, failing: 0, succeeded_24h: 0, failed_24h: 0 }, inbound: [], last_event_at: null,
  ...over,
});
const cred = (status: WorkspaceSummary['health'], instance: string | null = null, failures = 0) =>
  ({ provider: 'emailbison', instance_id: instance ? `ins_${instance}` : null, instance_name: instance, status, consecutive_failures: failures, last_error: null });

describe('fleet formatting', () => {
  test('success rate: one decimal, none when nothing happened', () => {
    expect(successRate(2, 3)).toBe(66.7);
    expect(successRate(0, 0)).toBeNull();
    expect(callsToday(ws('a', { calls_today: { calls: 8, errors: 2 } }))).toEqual({ calls: 8, rate: 75 });
  });
  test('colours: green healthy, red failing or no credential, orange degraded; rate thresholds', () => {
    expect([credentialColour('healthy'), credentialColour('degraded'), credentialColour('failing'), credentialColour('no_key')]).toEqual(['teal.9', WARNING_COLOR, 'red.9', 'red.9']);
    expect([rateColour(100), rateColour(95), rateColour(50), rateColour(null)]).toEqual(['teal.9', WARNING_COLOR, 'red.9', 'gray.8']);
  });
  test('a key is shown by its stored start only', () => {
    expect(maskKey('gate_live_Ab3x')).toBe('gate_live_Ab3x••••…');
    expect(maskKey(null)).toBe('no key');
  });
  test('time ago', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(timeAgo(null, now)).toBe('never');
    expect(timeAgo('2026-01-10T11:59:30Z', now)).toBe('just now');
    expect(timeAgo('2026-01-10T11:15:00Z', now)).toBe('45 min ago');
    expect(timeAgo('2026-01-10T07:00:00Z', now)).toBe('5 h ago');
    expect(timeAgo('2026-01-07T12:00:00Z', now)).toBe('3 d ago');
    expect(timeAgo('2025-10-01T00:00:00Z', now)).toBe('2025-10-01');
  });
  test('webhook state: none, failing, disabled, delivering', () => {
    expect(webhookState(ws('a'))).toBe('none');
    expect(webhookState(ws('a', { webhooks: { endpoints: 2, enabled: 2, failing: 1, succeeded_24h: 0, failed_24h: 0 } }))).toBe('failing');
    expect(webhookState(ws('a', { webhooks: { endpoints: 1, enabled: 0, failing: 0, succeeded_24h: 0, failed_24h: 0 } }))).toBe('disabled');
    expect(webhookState(ws('a', { webhooks: { endpoints: 1, enabled: 1, failing: 0, succeeded_24h: 0, failed_24h: 0 } }))).toBe('ok');
  });
});

describe('filtering the fleet', () => {
  const list = [
    ws('a', { name: 'Acme', credentials: [cred('healthy', 'North')] }),
    ws('b', { name: 'Beta', health: 'failing', credentials: [cred('failing', 'South', 3)] }),
    ws('c', { name: 'Gamma', status: 'inactive', health: 'no_key' }),
  ];
  const names = (f: Partial<typeof NO_FILTER>) => filterFleet(list, { ...NO_FILTER, ...f }).map((w) => w.name);
  test('no filter: all', () => expect(names({})).toEqual(['Acme', 'Beta', 'Gamma']));
  test('search by name or id, any case', () => {
    expect(names({ search: 'bet' })).toEqual(['Beta']);
    expect(names({ search: ' C ' })).toEqual(['Acme', 'Gamma']);
  });
  test('by instance, status and health, combined', () => {
    expect(names({ instance: 'North' })).toEqual(['Acme']);
    expect(names({ status: 'inactive' })).toEqual(['Gamma']);
    expect(names({ health: 'failing' })).toEqual(['Beta']);
    expect(names({ health: 'failing', instance: 'North' })).toEqual([]);
  });
  test('instances offered: each once, sorted', () => expect(allInstances([...list, ws('d', { credentials: [cred('healthy', 'North')] })])).toEqual(['North', 'South']));
});

describe('what needs attention', () => {
  test('failing credentials first, then failing endpoints, silent sources, degraded credentials; inactive left out', () => {
    const items = needsAttention([
      ws('deg', { name: 'A degraded', credentials: [cred('degraded', null, 1)] }),
      ws('sil', { name: 'B silent', inbound: [{ id: 'src_1', name: 'calls', provider: 'twilio', enabled: true, last_received_at: '2026-01-01T00:00:00Z', silent: true }] }),
      ws('ep', { name: 'C endpoints', webhooks: { endpoints: 2, enabled: 2, failing: 2, succeeded_24h: 0, failed_24h: 5 } }),
      ws('fail', { name: 'D failing', credentials: [cred('failing', null, 4)] }),
      ws('off', { name: 'E off', status: 'inactive', credentials: [cred('failing', null, 9)] }),
      ws('ok', { name: 'F fine', credentials: [cred('healthy')] }),
    ]);
    expect(items.map((i) => [i.workspaceName, i.tab, i.severity])).toEqual([
      ['D failing', 'credentials', 'failing'],
      ['C endpoints', 'webhooks', 'failing'],
      ['B silent', 'inbound', 'degraded'],
      ['A degraded', 'credentials', 'degraded'],
    ]);
    expect(items[0].text).toContain('4 failures');
    expect(items[1].text).toBe('2 webhook endpoints failing');
  });
  test('webhook success over 24 h adds up every workspace', () => {
    const r = webhookRate24h([
      ws('a', { webhooks: { endpoints: 1, enabled: 1, failing: 0, succeeded_24h: 90, failed_24h: 5 } }),
      ws('b', { webhooks: { endpoints: 1, enabled: 1, failing: 0, succeeded_24h: 0, failed_24h: 5 } }),
    ]);
    expect(r).toEqual({ succeeded: 90, failed: 10, rate: 90 });
    expect(webhookRate24h([ws('c')]).rate).toBeNull();
  });
});
