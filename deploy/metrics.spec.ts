import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredMetrics, defaultMetricNames, knownMetricNames } from './support/metrics-sources';
import { baseName, isKnownMetric, metricNames } from './support/promql';
import { allQueries, readDashboards, ruleQueries } from './support/queries';

/**
 * The dashboards and alerts select only metrics some service exports: a `switchyard_*` name
 * declared in the services' source (`name: 'switchyard_...'` under apps/ or libs/), one of
 * prom-client's default process metrics, or a series Prometheus makes itself (`up`).
 */
describe('metrics selected by dashboards and alert rules', () => {
  it('finds the declarations it compares against', async () => {
    const known = await knownMetricNames();
    assert.ok(known.has('switchyard_build_info'), 'switchyard_build_info (libs/observability) should be found as declared');
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) assert.ok(known.has(name), `${name} should be a prom-client default`);
    assert.equal(isKnownMetric('switchyard_edge_no_such_metric_total', known), false);
  });

  it('reads a query from every panel target and every alert', () => {
    const queries = allQueries();
    assert.ok(readDashboards().length >= 4, 'expected the four dashboards');
    assert.ok(queries.length > 40, `only ${queries.length} queries found`);
    assert.ok(ruleQueries().length >= 4);
    for (const q of queries) assert.ok(metricNames(q.expr).length > 0, `${q.file}: ${q.where} selects no metric: ${q.expr}`);
  });

  it('every metric a dashboard or an alert selects is exported by a service', async () => {
    const known = await knownMetricNames();
    const unknown = new Map<string, string[]>();
    for (const q of allQueries()) {
      for (const name of metricNames(q.expr)) {
        if (isKnownMetric(name, known)) continue;
        // Report a histogram series by its histogram: that is the name a service must declare.
        const missing = baseName(name).suffix ? baseName(name).base : name;
        unknown.set(missing, [...(unknown.get(missing) ?? []), `${q.file}: ${q.where}`]);
      }
    }
    const report = [...unknown].map(([name, places]) => `${name}\n      used by ${places.length} quer${places.length === 1 ? 'y' : 'ies'}, e.g. ${places[0]}`);
    assert.deepEqual(
      [...unknown.keys()].sort(),
      [],
      `metrics selected but not declared by any service (no name: 'switchyard_...' literal under apps/ or libs/, not a prom-client default):\n  ${report.join('\n  ')}`,
    );
  });

  it('prom-client defaults come from a fresh registry', async () => {
    const names = await defaultMetricNames();
    assert.ok(names.includes('nodejs_gc_duration_seconds'));
    assert.ok(!names.some((n) => n.startsWith('switchyard_')));
    assert.ok(declaredMetrics().every((m) => m.file.startsWith('apps/') || m.file.startsWith('libs/')));
  });
});
