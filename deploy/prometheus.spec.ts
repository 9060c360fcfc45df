import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { metricNames, parsePromQL } from './support/promql';
import { allQueries, readDashboards, dashboardQueries, readRules } from './support/queries';
import { asArray, asObject, asString, findPromtool, PROMTOOL_MISSING, repoPath, readYaml } from './support/repo';

const PROM_DIR = 'deploy/prometheus';
const SERVICES = ['edge', 'auth', 'scheduler', 'worker', 'batch'];
const promtool = findPromtool();

function runPromtool(args: string[]): { ok: boolean; output: string } {
  assert.ok(promtool);
  const r = spawnSync(promtool, args, { cwd: repoPath(PROM_DIR), encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function scrapeJobs(file: string): Record<string, unknown>[] {
  const doc = asObject(readYaml(PROM_DIR, file), file);
  return asArray(doc.scrape_configs, `${file} scrape_configs`).map((j) => asObject(j, 'scrape config'));
}

/** A dashboard query as plain PromQL: Grafana's interval variables become durations, others `.*`. */
function grafanaToPromQL(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{[A-Za-z0-9_]+(?::[A-Za-z0-9_]+)?\}|\$[A-Za-z0-9_]+/g, '.*');
}

describe('Prometheus configuration (deploy/prometheus)', () => {
  it('scrapes every service under a job named after it, on /metrics', () => {
    const jobs = scrapeJobs('prometheus.yml');
    for (const service of SERVICES) {
      const job = jobs.find((j) => j.job_name === service);
      assert.ok(job, `no scrape job ${service}`);
      assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    }
  });

  it('loads the alert rules, which exist', () => {
    for (const file of ['prometheus.yml', 'prometheus.k8s.yml']) {
      const doc = asObject(readYaml(PROM_DIR, file), file);
      const ruleFiles = asArray(doc.rule_files, `${file} rule_files`).map((f) => asString(f, 'rule file'));
      assert.deepEqual(ruleFiles, ['rules.yml']);
      for (const f of ruleFiles) assert.ok(existsSync(repoPath(PROM_DIR, f)), `${f} missing`);
    }
  });

  it('the Kubernetes configuration names jobs after the pods\' app label, as the dashboards expect', () => {
    const [job] = scrapeJobs('prometheus.k8s.yml');
    const relabels = asArray(job.relabel_configs, 'relabel_configs').map((r) => asObject(r, 'relabel'));
    const jobRelabel = relabels.find((r) => r.target_label === 'job');
    assert.ok(jobRelabel, 'a relabel rule must set job');
    assert.deepEqual(jobRelabel.source_labels, ['__meta_kubernetes_pod_label_app_kubernetes_io_name']);
  });
});

describe('alert rules (deploy/prometheus/rules.yml)', () => {
  const rules = readRules();
  const alerts = rules.filter((r) => r.alert);

  it('every alert has a severity, a summary, a description and a unique name', () => {
    assert.equal(new Set(alerts.map((r) => r.alert)).size, alerts.length, 'duplicate alert names');
    for (const r of alerts) {
      assert.ok(['critical', 'warning', 'info'].includes(String(r.labels.severity)), `${r.name}: severity`);
      assert.ok(typeof r.annotations.summary === 'string' && r.annotations.summary.length > 0, `${r.name}: summary`);
      assert.ok(typeof r.annotations.description === 'string' && r.annotations.description.length > 0, `${r.name}: description`);
      assert.ok(r.for !== undefined, `${r.name}: an explicit for:`);
    }
  });

  it('covers the issue\'s alerts: oldest wait over its bound, a worker down, 503 rate, load thrash', () => {
    const uses = (metric: string) => alerts.filter((r) => metricNames(r.expr).includes(metric)).map((r) => r.name);
    assert.ok(uses('switchyard_scheduler_queue_oldest_wait_seconds').length > 0, 'an alert on the oldest wait');
    const workerDown = alerts.filter((r) => metricNames(r.expr).includes('up') && parsePromQL(r.expr).selectors.some((s) => s.matchers.includes('job')) && r.expr.includes('"worker"'));
    assert.ok(workerDown.length > 0, 'an alert on up{job="worker"}');
    assert.ok(alerts.some((r) => r.expr.includes('switchyard_edge_requests_total{status="503"}')), 'an alert on the 503 rate');
    assert.ok(uses('switchyard_scheduler_loads_total').length > 0, 'an alert on loads per minute');
  });
});

describe('promtool', () => {
  const skip = promtool ? false : PROMTOOL_MISSING;

  it('check config prometheus.yml', { skip }, () => {
    const r = runPromtool(['check', 'config', 'prometheus.yml']);
    assert.ok(r.ok, r.output);
  });

  it('check config prometheus.k8s.yml', { skip }, (t) => {
    const r = runPromtool(['check', 'config', 'prometheus.k8s.yml']);
    if (!r.ok && /field kubernetes_sd_configs not found/.test(r.output)) {
      // Debian's prometheus package is built without Kubernetes service discovery.
      t.skip('this promtool build has no Kubernetes service discovery (Debian package); use the upstream binary to check it');
      return;
    }
    assert.ok(r.ok, r.output);
  });

  it('check rules rules.yml', { skip }, () => {
    const r = runPromtool(['check', 'rules', 'rules.yml']);
    assert.ok(r.ok, r.output);
  });

  it('test rules rules.test.yml (alert unit tests)', { skip }, () => {
    const r = runPromtool(['test', 'rules', 'rules.test.yml']);
    assert.ok(r.ok, r.output);
  });

  it('every dashboard query is valid PromQL', { skip }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-dashboards-'));
    try {
      const queries = readDashboards().flatMap(dashboardQueries);
      const doc = {
        groups: [{ name: 'dashboard-queries', rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: grafanaToPromQL(q.expr) })) }],
      };
      const file = path.join(dir, 'dashboard-queries.yml');
      writeFileSync(file, YAML.stringify(doc));
      const r = runPromtool(['check', 'rules', file]);
      const where = [...r.output.matchAll(/dashboard:query:(\d+)/g)].map((m) => `${queries[Number(m[1])].file}: ${queries[Number(m[1])].where}`);
      assert.ok(r.ok, `${r.output}\n${where.join('\n')}`);
      assert.ok(allQueries().length >= queries.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
