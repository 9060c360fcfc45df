import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKnownMetric, metricNames, parsePromQL, tokenize, variableQueryExpr } from './support/promql';

describe('PromQL tokenizer (used to check dashboards and alerts)', () => {
  it('finds the metric of a histogram quantile, not its functions, labels or variables', () => {
    const expr = 'histogram_quantile(0.95, sum by (le, model) (rate(switchyard_edge_time_to_first_token_seconds_bucket{model=~"$model"}[$__rate_interval])))';
    assert.deepEqual(metricNames(expr), ['switchyard_edge_time_to_first_token_seconds_bucket']);
    const parsed = parsePromQL(expr);
    assert.deepEqual(parsed.groupingLabels, ['le', 'model']);
    assert.deepEqual(parsed.selectors[0].matchers, ['model']);
    assert.deepEqual([...new Set(parsed.variables)].sort(), ['__rate_interval', 'model']);
  });

  it('handles binary operators, trailing grouping, keywords, offsets and numbers', () => {
    const expr = `sum(rate(a_total{status=~"5..", status!="503"}[5m] offset 1h)) by (job)
      / on(job) group_left(version) max by (job, version) (b_info) > bool 0.05 and c unless d or vector(1e-9) * 60`;
    assert.deepEqual(metricNames(expr), ['a_total', 'b_info', 'c', 'd']);
    assert.deepEqual(parsePromQL(expr).selectors[0].matchers, ['status', 'status']);
  });

  it('treats a name followed by ( or by/without as a function or aggregation', () => {
    assert.deepEqual(metricNames('topk without (instance) (5, x) + absent(up{job="worker"} == 1) + count(y)'), ['x', 'up', 'y']);
  });

  it('ignores label values and strings, even when they look like metric names', () => {
    assert.deepEqual(metricNames('label_replace(m, "dst", "not_a_metric", "src", "(.*)")'), ['m']);
  });

  it('skips subqueries and Grafana interval variables', () => {
    assert.deepEqual(metricNames('max_over_time(rate(m_total[1m])[$__range:$__interval])'), ['m_total']);
  });

  it('refuses a selector without a metric name', () => {
    assert.throws(() => parsePromQL('{__name__=~"switchyard_.*"}'), /without a metric name/);
  });

  it('tokenizes durations, numbers, strings and identifiers with colons', () => {
    const kinds = tokenize('rate(job:x:rate5m[1h30m]) > 0.5').map((t) => `${t.kind}:${t.text}`);
    assert.deepEqual(kinds, ['ident:rate', 'punct:(', 'ident:job:x:rate5m', 'punct:[', 'duration:1h30m', 'punct:]', 'punct:)', 'punct:>', 'number:0.5']);
  });

  it('accepts histogram series of a known histogram and nothing else', () => {
    const known = new Set(['switchyard_worker_model_load_seconds', 'up']);
    assert.equal(isKnownMetric('switchyard_worker_model_load_seconds_bucket', known), true);
    assert.equal(isKnownMetric('switchyard_worker_model_load_seconds_sum', known), true);
    assert.equal(isKnownMetric('switchyard_worker_model_load_seconds_count', known), true);
    assert.equal(isKnownMetric('switchyard_worker_model_load_seconds_total', known), false);
    assert.equal(isKnownMetric('switchyard_worker_model_loads_bucket', known), false);
    assert.equal(isKnownMetric('up', known), true);
  });

  it('reads the PromQL inside Grafana variable queries', () => {
    assert.equal(variableQueryExpr('label_values(switchyard_edge_requests_total{route="models"}, model)'), 'switchyard_edge_requests_total{route="models"}');
    assert.equal(variableQueryExpr('label_values(model)'), undefined);
    assert.equal(variableQueryExpr('query_result(topk(5, x))'), 'topk(5, x)');
  });
});
