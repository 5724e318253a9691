import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The shipped Grafana dashboard and Prometheus rules must name only metrics Gatehouse exports,
// with labels it sets: a renamed metric would otherwise leave an alert silently never firing.
let t: TestApp;
let exported: Map<string, string>;
beforeAll(async () => {
  t = await createTestApp();
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  exported = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
});
afterAll(() => t?.close());

const PROMETHEUS_OWN = new Set(['up']);
const rules = parse(readFileSync(`${ROOT}docs/ops/alerts.yml`, 'utf8')).groups.flatMap((g: any) => g.rules);
const dashboard = JSON.parse(readFileSync(`${ROOT}docs/ops/grafana-dashboard.json`, 'utf8'));
const panelExprs: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));

/** Metric names an expression reads, with a histogram's _bucket/_sum/_count taken back to its name. */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:gatehouse_[a-z_]+|up)\b/g) ?? [];
  return names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return exported.get(base) === 'histogram' ? base : n;
  });
}

describe('docs/ops', () => {
  test('every alert rule reads exported metrics and says what it means', () => {
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Gatehouse[A-Za-z]+$/);
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      for (const m of metricsIn(r.expr)) expect(PROMETHEUS_OWN.has(m) || exported.has(m), `${r.alert}: ${m}`).toBe(true);
    }
  });

  test('the rules cover queue age, failure rate, failing credentials and dead-letter growth', () => {
    const reads = (metric: string) => rules.some((r: any) => r.expr.includes(metric));
    for (const m of ['gatehouse_webhook_oldest_due_seconds', 'gatehouse_webhook_deliveries_total', 'gatehouse_credentials', 'gatehouse_webhook_dead_letters']) expect(reads(m), m).toBe(true);
  });

  test('every dashboard panel queries exported metrics through the chosen data source', () => {
    expect(dashboard.uid).toBe('gatehouse');
    expect(panelExprs.length).toBeGreaterThanOrEqual(10);
    for (const expr of panelExprs) {
      const names = metricsIn(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const m of names) expect(exported.has(m), `${expr}: ${m}`).toBe(true);
    }
    expect(dashboard.panels.every((p: any) => p.datasource.uid === '${datasource}')).toBe(true);
    // Every Gatehouse metric is on the dashboard somewhere (of Node's process metrics, CPU and memory).
    const shown = new Set(panelExprs.flatMap(metricsIn));
    for (const name of exported.keys()) if (name.startsWith('gatehouse_') && !name.startsWith('gatehouse_process_')) expect(shown.has(name), name).toBe(true);
    expect(shown.has('gatehouse_process_process_cpu_seconds_total')).toBe(true);
  });

  test('labels the rules select on are labels the metrics carry', async () => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const labelsOf = (metric: string) => new Set([...text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\}`, 'gm'))].flatMap((m) => [...m[1]!.matchAll(/(\w+)=/g)].map((l) => l[1])));
    expect(labelsOf('gatehouse_credentials')).toEqual(new Set(['status']));
    for (const r of rules) {
      for (const [, metric, selector] of r.expr.matchAll(/(gatehouse_[a-z_]+)\{([^}]*)\}/g)) {
        const labels = [...selector.matchAll(/(\w+)\s*(?:=~|!=|=)/g)].map((l: RegExpMatchArray) => l[1]);
        const known = new Set(['status', 'outcome', 'kind', 'result', 'provider', 'reason', 'method', 'route', 'duplicate']);
        for (const l of labels) expect(known.has(l), `${r.alert}: ${metric} {${l}}`).toBe(true);
      }
    }
  });
});
