// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { bucketMs, eventChoices, EVENT_FILTER, fillSeries, excerpt, formatLatency, formatRate, headersToRows, rateBand, rateColor, relativeTime, rowsToHeaders } from '../../web/src/lib/webhooks';
import { WARNING_COLOR } from '../../web/src/lib/colors';

describe('success-rate colours', () => {
  test('95 % and up is green, 80 up to 95 orange, below 80 red, no calls grey', () => {
    expect([100, 95, 94.99, 80, 79.99, 0].map(rateBand)).toEqual(['good', 'good', 'warn', 'warn', 'bad', 'bad']);
    expect(rateColor(95)).toBe('teal.9');
    expect(rateColor(90)).toBe(WARNING_COLOR);
    expect(rateColor(50)).toBe('red.9');
    expect(rateColor(null)).toBe('gray.8');
  });
  test('rates read as percentages', () => {
    expect(formatRate(100)).toBe('100 %');
    expect(formatRate(97.25)).toBe('97.3 %');
    expect(formatRate(null)).toBe('no calls');
  });
});

describe('formatting', () => {
  test('latency in ms below a second, seconds above', () => {
    expect(formatLatency(42)).toBe('42 ms');
    expect(formatLatency(1500)).toBe('1.50 s');
    expect(formatLatency(null)).toBe('–');
  });
  test('relative times both ways', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime('2026-01-01T11:57:00Z', now)).toBe('3 min ago');
    expect(relativeTime('2026-01-01T12:00:30Z', now)).toBe('in 30 s');
    expect(relativeTime(null, now)).toBe('never');
  });
  test('a response excerpt is one line and cut', () => {
    expect(excerpt('a\n  b')).toBe('a b');
    expect(excerpt('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('the endpoint form', () => {
  test('event filters: exact types, prefix wildcards and * pass; anything else fails', () => {
    for (const ok of ['lead.replied', 'lead.*', '*', 'gatehouse.webhook.*']) expect(EVENT_FILTER.test(ok), ok).toBe(true);
    for (const bad of ['Lead.replied', 'lead.', '*.replied', 'lead.*.x', '']) expect(EVENT_FILTER.test(bad), bad).toBe(false);
  });
  test('the picker offers * and one wildcard per prefix', () => {
    expect(eventChoices(['lead.replied', 'lead.created', 'gatehouse.webhook.test'])).toEqual(['*', 'gatehouse.*', 'gatehouse.webhook.*', 'lead.*', 'gatehouse.webhook.test', 'lead.created', 'lead.replied']);
  });
  test('header rows round-trip and blank rows are dropped', () => {
    const rows = headersToRows({ 'X-Tenant': 'acme' });
    expect(rows).toEqual([{ key: 'X-Tenant', value: 'acme' }]);
    expect(rowsToHeaders([...rows, { key: ' ', value: 'ignored' }])).toEqual({ 'X-Tenant': 'acme' });
  });
});

describe('the analytics chart', () => {
  test('bucket sizes as the server names them', () => {
    expect(bucketMs('5 minutes')).toBe(300_000);
    expect(bucketMs('1 hour')).toBe(3_600_000);
    expect(bucketMs('6 hours')).toBe(21_600_000);
    expect(bucketMs('1 day')).toBe(86_400_000);
    expect(bucketMs('a while')).toBeNull();
  });
  test('empty buckets are filled in between the window start and now, the ones with data kept', () => {
    const now = Date.parse('2026-01-01T12:07:00Z');
    const filled = fillSeries([{ t: '2026-01-01T11:00:00.000Z', total: 4 }], '2026-01-01T09:07:00Z', '1 hour', { total: 0 }, now);
    expect(filled.map((s) => [s.t.slice(11, 16), s.total])).toEqual([['09:00', 0], ['10:00', 0], ['11:00', 4], ['12:00', 0]]);
  });
});
