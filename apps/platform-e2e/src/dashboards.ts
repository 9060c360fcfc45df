/**
 * The Grafana dashboards of deploy/grafana/dashboards as Grafana would query Prometheus: every
 * panel's targets (panels in collapsed rows included), the template variables, and each query with
 * its variables replaced the way Grafana's Prometheus datasource replaces them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Series } from './prometheus';

const DIR = path.resolve(__dirname, '../../../deploy/grafana/dashboards');

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  /** Grafana runs it as an instant query (tables, bar gauges) rather than a range query. */
  instant: boolean;
}

export interface Variable {
  name: string;
  /** The series selector of `label_values(selector, label)`. */
  match: string;
  label: string;
  /** What "All" stands for (`allValue`). */
  allValue: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  queries: PanelQuery[];
  variables: Variable[];
}

interface RawPanel {
  title?: string;
  panels?: RawPanel[];
  targets?: Array<{ refId?: string; expr?: string; instant?: boolean }>;
}

export function readDashboards(): Dashboard[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as {
        uid: string;
        title: string;
        panels: RawPanel[];
        templating?: { list?: Array<{ name: string; type: string; query: string | { query: string }; allValue?: string }> };
      };
      const panels = json.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
      const queries = panels.flatMap((p) =>
        (p.targets ?? [])
          .filter((t) => typeof t.expr === 'string')
          .map((t) => ({ dashboard: json.uid, panel: p.title ?? '', refId: t.refId ?? 'A', expr: t.expr as string, instant: t.instant === true })),
      );
      const variables = (json.templating?.list ?? [])
        .filter((v) => v.type === 'query')
        .map((v) => {
          const q = typeof v.query === 'string' ? v.query : v.query.query;
          const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/s.exec(q.trim());
          if (!m) throw new Error(`${file} $${v.name}: only label_values(selector, label) variables are understood, not ${q}`);
          return { name: v.name, match: m[1].trim(), label: m[2], allValue: v.allValue ?? '.*' };
        });
      return { uid: json.uid, title: json.title, queries, variables };
    });
}

/** A value as Grafana puts it into a regex matcher: regex characters escaped, then escaped for the PromQL string. */
function regexValue(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&').replace(/\\/g, '\\\\');
}

export interface Interpolation {
  /** Variable name → a real value, or undefined for "All". */
  values: Record<string, string | undefined>;
  rateIntervalS: number;
  intervalS: number;
  rangeS: number;
}

/** The query Grafana would send for the given variable values and time range. */
export function interpolate(expr: string, d: Dashboard, how: Interpolation): string {
  let out = expr
    .replaceAll('$__rate_interval', `${how.rateIntervalS}s`)
    .replaceAll('$__interval', `${how.intervalS}s`)
    .replaceAll('$__range', `${Math.max(1, Math.round(how.rangeS))}s`);
  for (const v of d.variables) {
    const value = how.values[v.name];
    const text = value === undefined ? v.allValue : regexValue(value);
    out = out.replaceAll(`\${${v.name}}`, text).replaceAll(`$${v.name}`, text);
  }
  if (/\$[A-Za-z_{]/.test(out)) throw new Error(`a variable is left in ${out}`);
  return out;
}

/** Whether an answer has something to draw: a series with a finite sample (NaN and ±Inf draw nothing useful). */
export function hasData(series: Series[]): boolean {
  return series.some((s) => s.values.some(([, v]) => Number.isFinite(v)));
}

const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(2));

/** What a panel shows over a stretch of time, in a few words: each series' peak (a few of them). */
export function summarise(series: Series[], legend = 3): string {
  const drawn = series
    .map((s) => ({ s, finite: s.values.map(([, v]) => v).filter(Number.isFinite) }))
    .filter((x) => x.finite.length > 0)
    .map((x) => ({ name: Object.values(x.s.metric).join(',') || 'value', low: Math.min(...x.finite), peak: Math.max(...x.finite), last: x.finite[x.finite.length - 1] }))
    .sort((a, b) => b.peak - a.peak);
  if (drawn.length === 0) return series.length === 0 ? 'no data' : 'NaN only';
  const shown = drawn.slice(0, legend).map((x) => `${x.name} ${fmt(x.low)}..${fmt(x.peak)} last ${fmt(x.last)}`);
  return `${drawn.length} series: ${shown.join('; ')}${drawn.length > legend ? '; …' : ''}`;
}
