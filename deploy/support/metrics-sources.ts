import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { REPO_ROOT } from './repo';

/** A metric declared in a service's source: `name: 'switchyard_...'` in a prom-client constructor. */
export interface DeclaredMetric {
  name: string;
  /** The prom-client class constructing it (`new Histogram({ name: ... })`), when found. */
  type?: 'counter' | 'gauge' | 'histogram' | 'summary';
  /** `labelNames` of the same declaration ([] when it has none), undefined when not a literal list. */
  labelNames?: string[];
  file: string;
}

const SOURCE_DIRS = ['apps', 'libs'];
const TEST_FILE = /\.(spec|int-spec|e2e-spec)\.ts$/;
const NAME_LITERAL = /\bname\s*:\s*(['"`])(switchyard_[a-z0-9_]+)\1/g;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const p = path.join(dir, entry);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts') && !TEST_FILE.test(p)) out.push(p);
  }
  return out;
}

/**
 * The label names of the declaration whose `name:` literal ends at `from`: `[]` when its object
 * literal (up to the `}` closing it) has no `labelNames`, the names when `labelNames: ['a', 'b']`
 * is written out, undefined when it is not a literal list.
 */
function literalLabelNames(source: string, from: number): string[] | undefined {
  let depth = 0;
  let end = source.length;
  for (let k = from; k < source.length; k++) {
    const c = source[k];
    if (c === "'" || c === '"' || c === '`') {
      // Skip a string literal (help texts hold brackets).
      for (k++; k < source.length && source[k] !== c; k++) if (source[k] === '\\') k++;
      continue;
    }
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      if (depth === 0) {
        end = k;
        break;
      }
      depth--;
    }
  }
  const body = source.slice(from, end);
  if (!/\blabelNames\b/.test(body)) return [];
  const m = /\blabelNames\s*:\s*\[([^\]]*)\]/.exec(body);
  if (!m) return undefined;
  const items = m[1].split(',').map((s) => s.trim()).filter(Boolean);
  const names = items.map((s) => /^(['"`])([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(s)?.[2]);
  return names.every((n): n is string => n !== undefined) ? names : undefined;
}

/** Every `switchyard_*` metric declared (by a `name: '...'` literal) under apps/ and libs/, tests excluded. */
export function declaredMetrics(): DeclaredMetric[] {
  const found: DeclaredMetric[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(path.join(REPO_ROOT, dir))) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(NAME_LITERAL)) {
        const before = source.slice(Math.max(0, (m.index ?? 0) - 300), m.index);
        const ctor = [...before.matchAll(/\bnew\s+(Counter|Gauge|Histogram|Summary)\b/g)].pop()?.[1];
        const type = ctor ? (ctor.toLowerCase() as DeclaredMetric['type']) : undefined;
        found.push({ name: m[2], type, labelNames: literalLabelNames(source, (m.index ?? 0) + m[0].length), file: path.relative(REPO_ROOT, file) });
      }
    }
  }
  return found;
}

/** Names of the metrics prom-client's `collectDefaultMetrics` registers (every service exports them). */
export async function defaultMetricNames(): Promise<string[]> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  registry.clear();
  return names;
}

/** Series Prometheus adds to every scrape target itself. */
export const PROMETHEUS_SYNTHETIC = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'];

/** Labels Prometheus attaches to every series of a target (job, instance) or our relabelling adds (pod, node). */
export const TARGET_LABELS = ['job', 'instance', 'pod', 'node', 'stack'];

/** Everything a dashboard or an alert may select: declared names, prom-client defaults, Prometheus' own. */
export async function knownMetricNames(): Promise<Set<string>> {
  return new Set([...declaredMetrics().map((m) => m.name), ...(await defaultMetricNames()), ...PROMETHEUS_SYNTHETIC]);
}
