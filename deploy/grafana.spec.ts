import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePromQL } from './support/promql';
import { dashboardQueries, panelsOf, readDashboards, templateVariables } from './support/queries';
import { asArray, asObject, asString, isObject, listFiles, readYaml } from './support/repo';

const PROVISIONING = 'deploy/grafana/provisioning';
/** Variables Grafana defines itself. */
const BUILTIN_VARIABLES = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__from', '__to', '__dashboard', '__org', '__user']);

function provisionedDatasourceUids(): string[] {
  return listFiles(`${PROVISIONING}/datasources`, /\.ya?ml$/).flatMap((file) => {
    const doc = asObject(readYaml(PROVISIONING, 'datasources', file), file);
    return asArray(doc.datasources, `${file} datasources`).map((d) => asString(asObject(d, 'datasource').uid, `${file} datasource uid`));
  });
}

function panelDatasourceUid(panel: Record<string, unknown>): string | undefined {
  const ds = panel.datasource;
  return isObject(ds) && typeof ds.uid === 'string' ? ds.uid : undefined;
}

describe('Grafana provisioning (deploy/grafana)', () => {
  it('provisions the Prometheus datasource with a fixed uid and the stack URL', () => {
    const file = listFiles(`${PROVISIONING}/datasources`, /\.ya?ml$/);
    assert.ok(file.length > 0, 'no datasource provisioning file');
    const doc = asObject(readYaml(PROVISIONING, 'datasources', file[0]), file[0]);
    assert.equal(doc.apiVersion, 1);
    const [ds] = asArray(doc.datasources, 'datasources').map((d) => asObject(d, 'datasource'));
    assert.equal(ds.type, 'prometheus');
    assert.equal(ds.uid, 'switchyard-prometheus');
    assert.equal(ds.url, 'http://prometheus:9090');
  });

  it('provisions the dashboards folder from files', () => {
    const files = listFiles(`${PROVISIONING}/dashboards`, /\.ya?ml$/);
    assert.ok(files.length > 0, 'no dashboard provider file');
    const doc = asObject(readYaml(PROVISIONING, 'dashboards', files[0]), files[0]);
    const [provider] = asArray(doc.providers, 'providers').map((p) => asObject(p, 'provider'));
    assert.equal(provider.type, 'file');
    assert.equal(asObject(provider.options, 'options').path, '/etc/grafana/dashboards');
  });
});

describe('Grafana dashboards (deploy/grafana/dashboards)', () => {
  const dashboards = readDashboards();
  const datasourceUids = new Set(provisionedDatasourceUids());

  it('are the four dashboards of the issue, each with a unique uid and title', () => {
    assert.deepEqual(dashboards.map((d) => d.json.uid).sort(), ['switchyard-overview', 'switchyard-placement', 'switchyard-usage', 'switchyard-workers']);
    assert.equal(new Set(dashboards.map((d) => d.json.title)).size, dashboards.length);
    for (const d of dashboards) {
      assert.equal(typeof d.json.schemaVersion, 'number', `${d.file}: schemaVersion`);
      assert.equal(d.json.id ?? null, null, `${d.file}: a provisioned dashboard must not carry a database id`);
      assert.ok(asArray(d.json.tags, 'tags').includes('switchyard'), `${d.file}: tag switchyard`);
    }
  });

  it('panels have unique ids, sit on the 24-column grid without overlapping, and use the provisioned datasource', () => {
    for (const d of dashboards) {
      const panels = panelsOf(d.json);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${d.file}: duplicate panel ids`);
      const cells = new Set<string>();
      for (const p of panels) {
        const title = String(p.title);
        const g = asObject(p.gridPos, `${d.file} "${title}" gridPos`);
        const [x, y, w, h] = [g.x, g.y, g.w, g.h].map((n) => Number(n));
        assert.ok(Number.isInteger(x) && Number.isInteger(y) && w > 0 && h > 0 && x + w <= 24, `${d.file} "${title}": bad gridPos ${JSON.stringify(g)}`);
        for (let cx = x; cx < x + w; cx++) {
          for (let cy = y; cy < y + h; cy++) {
            const cell = `${cx},${cy}`;
            assert.ok(!cells.has(cell), `${d.file} "${title}" overlaps another panel at ${cell}`);
            cells.add(cell);
          }
        }
        if (p.type === 'row' || p.type === 'text') continue;
        assert.ok(typeof p.title === 'string' && p.title.length > 0, `${d.file}: a panel without a title`);
        const uid = panelDatasourceUid(p);
        assert.ok(uid !== undefined && datasourceUids.has(uid), `${d.file} "${title}": datasource ${JSON.stringify(p.datasource)} is not provisioned`);
        const targets = asArray(p.targets, `${d.file} "${title}" targets`).map((t) => asObject(t, 'target'));
        assert.ok(targets.length > 0, `${d.file} "${title}" has no query`);
        const refIds = targets.map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `${d.file} "${title}": duplicate refIds`);
        for (const t of targets) {
          assert.ok(typeof t.expr === 'string' && t.expr.trim().length > 0, `${d.file} "${title}" ${String(t.refId)}: empty expr`);
          const tuid = panelDatasourceUid(t);
          assert.ok(tuid === undefined || datasourceUids.has(tuid), `${d.file} "${title}": target datasource not provisioned`);
        }
      }
    }
  });

  it('every variable a query uses is defined by the dashboard (or by Grafana)', () => {
    for (const d of dashboards) {
      const defined = new Set(templateVariables(d.json).map((v) => String(v.name)));
      for (const v of templateVariables(d.json)) {
        const uid = panelDatasourceUid(v);
        assert.ok(uid === undefined || datasourceUids.has(uid), `${d.file} $${String(v.name)}: datasource not provisioned`);
      }
      for (const q of dashboardQueries(d)) {
        for (const name of parsePromQL(q.expr).variables) assert.ok(defined.has(name) || BUILTIN_VARIABLES.has(name), `${q.file}: ${q.where} uses undefined $${name}`);
      }
    }
  });

  it('show what the issue asks for on each dashboard', () => {
    const exprsOf = (uid: string) => {
      const d = dashboards.find((x) => x.json.uid === uid);
      assert.ok(d, `dashboard ${uid}`);
      return dashboardQueries(d).map((q) => q.expr).join('\n');
    };
    const overview = exprsOf('switchyard-overview');
    for (const needle of ['switchyard_edge_requests_total', 'histogram_quantile(0.5, sum by (le) (rate(switchyard_edge_time_to_first_token_seconds_bucket', 'histogram_quantile(0.95, sum by (le) (rate(switchyard_edge_time_to_first_token_seconds_bucket', 'switchyard_edge_tokens_total', '429|503', 'status=~"5.."']) {
      assert.ok(overview.includes(needle), `Overview should query ${needle}`);
    }
    const placement = exprsOf('switchyard-placement');
    for (const needle of ['switchyard_scheduler_model_resident', 'switchyard_scheduler_loads_total', 'switchyard_scheduler_evictions_total', 'switchyard_worker_model_load_seconds', 'switchyard_scheduler_queue_depth', 'switchyard_scheduler_queue_oldest_wait_seconds']) {
      assert.ok(placement.includes(needle), `Placement should query ${needle}`);
    }
    const workers = exprsOf('switchyard-workers');
    for (const needle of ['switchyard_worker_busy_slots', 'switchyard_worker_gpu_memory_bytes', 'process_resident_memory_bytes']) assert.ok(workers.includes(needle), `Workers should query ${needle}`);
    const usage = exprsOf('switchyard-usage');
    assert.ok(usage.includes('switchyard_auth_usage_tokens_total'), 'Usage should query switchyard_auth_usage_tokens_total');
  });

  it('the Usage dashboard says where per-key usage is, and no query groups by a key', () => {
    const usage = dashboards.find((d) => d.json.uid === 'switchyard-usage');
    assert.ok(usage);
    const notes = panelsOf(usage.json).filter((p) => p.type === 'text').map((p) => JSON.stringify(p.options));
    assert.ok(notes.some((n) => /per api key/i.test(n) && /admin API/.test(n)), 'a text panel should say per-key usage is in the admin API usage report');
    for (const d of dashboards) {
      for (const q of dashboardQueries(d)) {
        const parsed = parsePromQL(q.expr);
        const labels = [...parsed.groupingLabels, ...parsed.selectors.flatMap((s) => s.matchers)];
        for (const l of labels) assert.doesNotMatch(l, /key|request_id|user/, `${q.file}: ${q.where} uses label ${l}`);
      }
    }
  });
});
