import { asArray, asObject, asString, isObject, listFiles, readText, readYaml } from './repo';
import { variableQueryExpr } from './promql';

/** A PromQL expression and where it was found. */
export interface Query {
  file: string;
  /** Panel title and refId, variable name, or alert name. */
  where: string;
  expr: string;
}

export const DASHBOARD_DIR = 'deploy/grafana/dashboards';

export interface Dashboard {
  file: string;
  json: Record<string, unknown>;
}

export function readDashboards(): Dashboard[] {
  return listFiles(DASHBOARD_DIR, /\.json$/).map((file) => ({ file: `${DASHBOARD_DIR}/${file}`, json: asObject(JSON.parse(readText(DASHBOARD_DIR, file)), file) }));
}

/** Every panel of a dashboard, panels inside collapsed rows included. */
export function panelsOf(dashboard: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const p of asArray(dashboard.panels ?? [], 'panels')) {
    const panel = asObject(p, 'panel');
    out.push(panel);
    if (Array.isArray(panel.panels)) out.push(...panel.panels.map((inner) => asObject(inner, 'row panel')));
  }
  return out;
}

export function templateVariables(dashboard: Record<string, unknown>): Record<string, unknown>[] {
  const templating = isObject(dashboard.templating) ? dashboard.templating : {};
  return asArray(templating.list ?? [], 'templating.list').map((v) => asObject(v, 'variable'));
}

/** The query text of a query variable (a string, or `{query: string}` in newer Grafana). */
export function variableQuery(variable: Record<string, unknown>): string | undefined {
  if (variable.type !== 'query') return undefined;
  const q = variable.query;
  if (typeof q === 'string') return q;
  if (isObject(q) && typeof q.query === 'string') return q.query;
  return undefined;
}

export function dashboardQueries(d: Dashboard): Query[] {
  const out: Query[] = [];
  for (const panel of panelsOf(d.json)) {
    for (const t of asArray(panel.targets ?? [], 'targets')) {
      const target = asObject(t, 'target');
      if (target.expr === undefined) continue;
      out.push({ file: d.file, where: `panel "${String(panel.title)}" ${String(target.refId)}`, expr: asString(target.expr, 'expr') });
    }
  }
  for (const variable of templateVariables(d.json)) {
    const q = variableQuery(variable);
    const expr = q === undefined ? undefined : variableQueryExpr(q);
    if (expr !== undefined) out.push({ file: d.file, where: `variable $${String(variable.name)}`, expr });
  }
  return out;
}

export const RULES_FILE = 'deploy/prometheus/rules.yml';

export interface Rule {
  group: string;
  name: string;
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

export function readRules(): Rule[] {
  const doc = asObject(readYaml(RULES_FILE), RULES_FILE);
  const rules: Rule[] = [];
  for (const g of asArray(doc.groups, 'groups')) {
    const group = asObject(g, 'group');
    for (const r of asArray(group.rules, 'rules')) {
      const rule = asObject(r, 'rule');
      const alert = typeof rule.alert === 'string' ? rule.alert : undefined;
      const record = typeof rule.record === 'string' ? rule.record : undefined;
      rules.push({
        group: asString(group.name, 'group name'),
        name: alert ?? record ?? '(unnamed)',
        alert,
        record,
        expr: asString(rule.expr, `expr of ${alert ?? record}`),
        for: typeof rule.for === 'string' ? rule.for : undefined,
        labels: isObject(rule.labels) ? rule.labels : {},
        annotations: isObject(rule.annotations) ? rule.annotations : {},
      });
    }
  }
  return rules;
}

export function ruleQueries(): Query[] {
  return readRules().map((r) => ({ file: RULES_FILE, where: `rule ${r.name}`, expr: r.expr }));
}

/** Every PromQL expression of the dashboards and the alert rules. */
export function allQueries(): Query[] {
  return [...readDashboards().flatMap(dashboardQueries), ...ruleQueries()];
}
