import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAST_BUCKETS, LLM_LATENCY_BUCKETS } from '@switchyard/observability';
import { readCatalogue } from './support/catalogue';
import { declaredMetrics, TARGET_LABELS } from './support/metrics-sources';
import { baseName, parsePromQL } from './support/promql';
import { allQueries } from './support/queries';
import { readText } from './support/repo';

const NAME = /^switchyard_(edge|auth|scheduler|worker|batch)_[a-z][a-z0-9_]*[a-z0-9]$/;
/** Label names that would carry a key, a user or a request: unbounded, and some secret. */
const FORBIDDEN_LABEL = /(^|_)(key|keys|apikey|request|req|user|project|token|prompt|trace|session)(_|$)|^id$/;

describe('metrics catalogue (docs/metrics.md)', () => {
  const catalogue = readCatalogue();
  const byName = new Map(catalogue.map((e) => [e.name, e]));

  it('lists every metric once, with a meaning', () => {
    assert.ok(catalogue.length >= 25, `only ${catalogue.length} metric rows parsed from docs/metrics.md`);
    const seen = new Set<string>();
    for (const e of catalogue) {
      assert.ok(!seen.has(e.name), `${e.name} is listed twice`);
      seen.add(e.name);
      assert.ok(e.meaning.length > 10, `${e.name} has no meaning`);
    }
    for (const service of ['edge', 'auth', 'scheduler', 'worker']) {
      assert.ok(catalogue.some((e) => e.name.startsWith(`switchyard_${service}_`)), `no metric of ${service}`);
    }
  });

  it('names are switchyard_<service>_<what>_<unit>; counters end in _total', () => {
    for (const e of catalogue) {
      if (e.name === 'switchyard_build_info') continue;
      assert.match(e.name, NAME);
      if (e.type === 'counter') assert.ok(e.name.endsWith('_total'), `counter ${e.name} must end in _total`);
      else assert.ok(!e.name.endsWith('_total'), `${e.type} ${e.name} must not end in _total`);
      if (e.type === 'histogram') assert.match(e.name, /_(seconds|bytes|per_second)$/, `histogram ${e.name} must name its unit`);
    }
  });

  it('labels are bounded: never a key, user, project or request id', () => {
    for (const e of catalogue) for (const label of e.labels) assert.doesNotMatch(label, FORBIDDEN_LABEL, `${e.name} has label ${label}`);
  });

  it('documents the latency buckets the services use (10 ms to 10 min)', () => {
    assert.equal(LLM_LATENCY_BUCKETS[0], 0.01);
    assert.equal(LLM_LATENCY_BUCKETS[LLM_LATENCY_BUCKETS.length - 1], 600);
    const doc = readText('docs', 'metrics.md');
    assert.ok(doc.includes(LLM_LATENCY_BUCKETS.join(', ')), 'docs/metrics.md should list LLM_LATENCY_BUCKETS as in libs/observability');
    assert.ok(doc.includes(FAST_BUCKETS.join(', ')), 'docs/metrics.md should list FAST_BUCKETS as in libs/observability');
  });

  it('lists every metric the services declare, with the same type and labels', () => {
    const problems: string[] = [];
    for (const m of declaredMetrics()) {
      const e = byName.get(m.name);
      if (!e) {
        problems.push(`${m.name} (${m.file}) is not in docs/metrics.md`);
        continue;
      }
      if (m.type && m.type !== e.type) problems.push(`${m.name}: ${m.file} declares a ${m.type}, docs/metrics.md says ${e.type}`);
      if (m.labelNames && [...m.labelNames].sort().join(',') !== [...e.labels].sort().join(',')) {
        problems.push(`${m.name}: ${m.file} has labels [${m.labelNames.join(', ')}], docs/metrics.md says [${e.labels.join(', ')}]`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('lists every switchyard metric the dashboards and alerts select, used as its type allows', () => {
    const problems: string[] = [];
    for (const q of allQueries()) {
      for (const s of parsePromQL(q.expr).selectors) {
        if (!s.name.startsWith('switchyard_')) continue;
        const { base, suffix } = baseName(s.name);
        const e = byName.get(s.name) ?? (suffix ? byName.get(base) : undefined);
        if (!e) {
          problems.push(`${s.name} (${q.file}: ${q.where}) is not in docs/metrics.md`);
          continue;
        }
        if (e.name !== s.name && e.type !== 'histogram' && e.type !== 'summary') problems.push(`${s.name}: ${e.name} is a ${e.type}, it has no ${suffix} series`);
        if (e.type === 'histogram' && e.name === s.name) problems.push(`${q.file}: ${q.where} selects the histogram ${e.name} itself; use _bucket, _sum or _count`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('dashboards and alerts filter and group only by labels their metrics have', () => {
    const problems: string[] = [];
    for (const q of allQueries()) {
      const parsed = parsePromQL(q.expr);
      const labelsInExpr = new Set<string>([...TARGET_LABELS, 'le']);
      let allDocumented = true;
      for (const s of parsed.selectors) {
        const e = byName.get(s.name) ?? byName.get(baseName(s.name).base);
        if (!e) {
          allDocumented = false;
          continue;
        }
        e.labels.forEach((l) => labelsInExpr.add(l));
        const allowed = new Set([...e.labels, ...TARGET_LABELS, ...(e.type === 'histogram' ? ['le'] : [])]);
        for (const label of s.matchers) if (!allowed.has(label)) problems.push(`${q.file}: ${q.where}: ${s.name} has no label "${label}"`);
      }
      // Grouping labels are checked when every metric of the expression is in the catalogue.
      if (!allDocumented) continue;
      for (const label of parsed.groupingLabels) if (!labelsInExpr.has(label)) problems.push(`${q.file}: ${q.where}: groups by "${label}", which none of its metrics has`);
    }
    assert.deepEqual(problems, []);
  });
});
