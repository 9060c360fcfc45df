import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { barChartSvg } from '../chart';
import { fmt, table } from '../stats';
import { RunSummary } from './summary';
import { DEFAULT_INTERVAL_OPTIONS, fewer, more, RatioInterval, withIntervals } from './interval';

/** One system on one trace (shape × GPU config × seed). */
export interface RunRecord {
  shape: string;
  gpus: string;
  seed: number;
  summary: RunSummary;
}

export interface Spread {
  mean: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: number[]): Spread {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, min: NaN, max: NaN, n: 0 };
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v), n: v.length };
}

const KEYS = [
  'loadsPer1000',
  'loadsOverBound',
  'loadsOverInOrder',
  'loadingShare',
  'gpuBusyShare',
  'batchEfficiency',
  'ttftP50',
  'ttftP95',
  'ttftP99',
  'worstWait',
  'goodput',
  'goodputOfBound',
  'bulkMakespan',
  'refusedShare',
] as const;
type Key = (typeof KEYS)[number];

export interface Aggregate {
  shape: string;
  gpus: string;
  system: string;
  seeds: number[];
  metrics: Record<Key | 'servedShare' | 'interactiveServedShare' | 'bulkServedShare' | 'jain' | 'worstUserP95' | 'medianUserP95' | 'retryAdmitted' | 'expectedWaitAbsErr' | 'expectedWaitErr' | 'expectedWaitErrP90', Spread>;
  /** Every bulk request served on every seed. */
  bulkAllServed: boolean;
}

export function aggregate(runs: RunRecord[]): Aggregate[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const k = `${r.shape}|${r.gpus}|${r.summary.system}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const s = rs.map((r) => r.summary);
    const m = Object.fromEntries(KEYS.map((k) => [k, spread(s.map((x) => x[k]))])) as Aggregate['metrics'];
    m.servedShare = spread(s.map((x) => x.served / Math.max(1, x.requests)));
    m.interactiveServedShare = spread(s.map((x) => x.interactiveServed / Math.max(1, x.interactiveRequests)));
    m.bulkServedShare = spread(s.map((x) => (x.bulkRequests ? x.bulkServed / x.bulkRequests : NaN)));
    m.jain = spread(s.map((x) => x.fairness.jain));
    m.worstUserP95 = spread(s.map((x) => x.fairness.worstUserP95));
    m.medianUserP95 = spread(s.map((x) => x.fairness.medianUserP95));
    m.expectedWaitAbsErr = spread(s.map((x) => (x.retryAfter.expectedWaitSamples ? x.retryAfter.expectedWaitAbsErrP50 : NaN)));
    m.expectedWaitErr = spread(s.map((x) => (x.retryAfter.expectedWaitSamples ? x.retryAfter.expectedWaitErrP50 : NaN)));
    // Results from before the p90 was recorded have none: NaN, shown as —.
    m.expectedWaitErrP90 = spread(s.map((x) => (x.retryAfter.expectedWaitSamples ? (x.retryAfter.expectedWaitErrP90 ?? NaN) : NaN)));
    m.retryAdmitted = spread(s.map((x) => (x.retryAfter.retriedAfterWait ? x.retryAfter.admittedOnRetry / x.retryAfter.retriedAfterWait : NaN)));
    return {
      shape: rs[0].shape,
      gpus: rs[0].gpus,
      system: s[0].system,
      seeds: rs.map((r) => r.seed),
      metrics: m,
      bulkAllServed: s.every((x) => x.bulkServed === x.bulkRequests),
    };
  });
}

/**
 * "busy% (at efficiency%)": the share of the GPUs' time with some model busy, and the compute they
 * delivered then as a share of their most; "—" unless every seed has them (runs before 2026-12-04
 * did not record them, and a mean over some seeds would read as one over all).
 */
function computeCell(a: Aggregate): string {
  const { gpuBusyShare: busy, batchEfficiency: eff } = a.metrics;
  if (busy.n !== a.seeds.length || eff.n !== a.seeds.length) return '—';
  return `${fmt(busy.mean * 100, 0)}% (${fmt(eff.mean * 100, 0)}%)`;
}

/** "mean (min–max)" when several seeds, else the value. */
function cell(s: Spread, digits: number, scale = 1): string {
  if (s.n === 0) return '—';
  if (s.n === 1 || s.min === s.max) return fmt(s.mean * scale, digits);
  return `${fmt(s.mean * scale, digits)} (${fmt(s.min * scale, digits)}–${fmt(s.max * scale, digits)})`;
}

export interface Verdict {
  shape: string;
  gpus: string;
  bestProxy: { loads: string; p95: string; goodput: string };
  loadsRatio: number;
  /**
   * The most any system could be ahead on loads: the best proxy's loads over the bound every system
   * is held to (each distinct model loaded once). Below 5, the loads target is out of reach on these
   * traces whatever the policy: a longer trace is needed to measure it.
   */
  loadsCeiling: number;
  p95Ratio: number;
  goodputRatio: number;
  bulkAllServed: boolean;
  met: { loads: boolean; p95: boolean; goodput: boolean; bulk: boolean };
  /** Each ratio's interval from resampling the seeds (see interval.ts); absent with one seed. */
  intervals?: { loads?: RatioInterval; p95?: RatioInterval; goodput?: RatioInterval };
}

/** Issue 16's targets: Switchyard against the best proxy on each figure. */
export const TARGETS = { loads: 5, p95: 3, goodput: 1 } as const;

const INTERVAL_LABEL = `the central ${DEFAULT_INTERVAL_OPTIONS.level * 100}% of the ratio over ${DEFAULT_INTERVAL_OPTIONS.resamples.toLocaleString('en')} resamples of the seeds`;

/** " [low–high]" of a ratio's interval over seeds, or nothing. */
function interval(i: RatioInterval | undefined): string {
  return i ? ` [${fmt(i.low, 2)}–${fmt(i.high, 2)}]` : '';
}

/** Issue 16's target per (shape, GPUs), on the means over seeds: vs the best proxy on each figure. */
export function verdicts(aggs: Aggregate[]): Verdict[] {
  const out: Verdict[] = [];
  const cells = new Map<string, Aggregate[]>();
  for (const a of aggs) cells.set(`${a.shape}|${a.gpus}`, [...(cells.get(`${a.shape}|${a.gpus}`) ?? []), a]);
  for (const as of cells.values()) {
    const sy = as.find((a) => a.system === 'switchyard');
    const proxies = as.filter((a) => !a.system.startsWith('switchyard'));
    if (!sy || proxies.length === 0) continue;
    const best = (f: (a: Aggregate) => number, low: boolean) => proxies.reduce((b, a) => ((low ? f(a) < f(b) : f(a) > f(b)) ? a : b));
    const bl = best((a) => a.metrics.loadsPer1000.mean, true);
    const bp = best((a) => a.metrics.ttftP95.mean, true);
    const bg = best((a) => a.metrics.goodput.mean, false);
    const loadsRatio = fewer(sy.metrics.loadsPer1000.mean, bl.metrics.loadsPer1000.mean);
    const p95Ratio = fewer(sy.metrics.ttftP95.mean, bp.metrics.ttftP95.mean);
    const goodputRatio = more(sy.metrics.goodput.mean, bg.metrics.goodput.mean);
    out.push({
      shape: sy.shape,
      gpus: sy.gpus,
      bestProxy: { loads: bl.system, p95: bp.system, goodput: bg.system },
      loadsRatio,
      loadsCeiling: bl.metrics.loadsOverBound.mean,
      p95Ratio,
      goodputRatio,
      bulkAllServed: sy.bulkAllServed,
      met: { loads: loadsRatio >= TARGETS.loads, p95: p95Ratio >= TARGETS.p95, goodput: goodputRatio >= TARGETS.goodput, bulk: sy.bulkAllServed },
    });
  }
  return out;
}

export function printTables(aggs: Aggregate[], log: (s: string) => void): void {
  const cells = [...new Set(aggs.map((a) => `${a.shape}|${a.gpus}`))];
  for (const c of cells) {
    const [shape, gpus] = c.split('|');
    const rows = aggs.filter((a) => a.shape === shape && a.gpus === gpus);
    log(`\n${shape}, ${gpus} GB GPUs, seeds ${rows[0].seeds.join(',')} (mean (min–max) over seeds; times simulated s)`);
    log(
      table(
        ['system', 'loads/1k', '×distinct', '×in-order*', 'GPU loading', 'GPU busy (of most)', 'TTFT p50', 'p95', 'p99', 'worst wait', 'goodput req/s', '% of bound', 'served', '429/503', 'RA admitted', 'Jain', 'user p95 worst/median', 'bulk served', 'bulk makespan'],
        rows.map((a) => {
          const m = a.metrics;
          return [
            a.system,
            cell(m.loadsPer1000, 1),
            fmt(m.loadsOverBound.mean, 1),
            fmt(m.loadsOverInOrder.mean, 2),
            `${fmt(m.loadingShare.mean * 100, 1)}%`,
            computeCell(a),
            fmt(m.ttftP50.mean, 1),
            cell(m.ttftP95, 1),
            fmt(m.ttftP99.mean, 1),
            fmt(m.worstWait.mean, 1),
            cell(m.goodput, 3),
            `${fmt(m.goodputOfBound.mean * 100, 0)}%`,
            `${fmt(m.servedShare.mean * 100, 1)}%`,
            `${fmt(m.refusedShare.mean * 100, 1)}%`,
            m.retryAdmitted.n ? `${fmt(m.retryAdmitted.mean * 100, 0)}%` : '—',
            fmt(m.jain.mean, 2),
            `${fmt(m.worstUserP95.mean, 0)}/${fmt(m.medianUserP95.mean, 0)}`,
            m.bulkServedShare.n ? `${fmt(m.bulkServedShare.mean * 100, 1)}%` : '—',
            cell(m.bulkMakespan, 0),
          ];
        }),
      ),
    );
  }
  log(
    '\n* in-order: Belady’s MIN over the arrival order, a bound only for systems that serve in arrival order; ×distinct: loads over the count of distinct models, the bound for any system.\n' +
      '  TTFT, worst wait and user p95 are over served interactive requests (worst wait: streams only, retries included); served, 429/503: share of all requests;\n' +
      '  RA admitted: retries after a Retry-After that were admitted; Jain: over users’ 1/mean TTFT; goodput: served/s; % of bound: of the trace’s throughput bound.',
  );
}

export function printVerdicts(vs: Verdict[], log: (s: string) => void): void {
  if (vs.length === 0) return;
  log(`\nIssue 16’s target, Switchyard vs the best proxy on each figure (means over seeds; in brackets, ${INTERVAL_LABEL}):`);
  log(
    table(
      ['shape', 'GPUs', 'fewer loads (≥5×)', 'lower p95 TTFT (≥3×)', 'goodput (≥1×)', 'every bulk served'],
      vs.map((v) => [
        v.shape,
        v.gpus,
        `${fmt(v.loadsRatio, 2)}×${interval(v.intervals?.loads)} ${v.met.loads ? 'met' : 'NOT met'} (any system ≤ ${fmt(v.loadsCeiling, 1)}×)`,
        `${fmt(v.p95Ratio, 2)}×${interval(v.intervals?.p95)} ${v.met.p95 ? 'met' : 'NOT met'}`,
        `${fmt(v.goodputRatio, 2)}×${interval(v.intervals?.goodput)} ${v.met.goodput ? 'met' : 'NOT met'}`,
        v.met.bulk ? 'yes' : 'NO',
      ]),
    ),
  );
}

export function chartSvg(title: string, vs: Verdict[], aggs: Aggregate[]): string {
  const label = (v: { shape: string; gpus: string }) => `${v.shape} ${v.gpus}`;
  const sy = aggs.filter((a) => a.system === 'switchyard');
  return barChartSvg(title, [
    { title: 'Fewer loads', unit: '× vs best proxy', values: vs.map((v) => ({ label: label(v), value: v.loadsRatio })) },
    { title: 'Lower p95 TTFT', unit: '× vs best proxy', values: vs.map((v) => ({ label: label(v), value: v.p95Ratio })) },
    { title: 'Goodput', unit: '× best proxy', values: vs.map((v) => ({ label: label(v), value: v.goodputRatio })) },
    { title: 'Switchyard refused', unit: '% 429/503', values: sy.map((a) => ({ label: label(a), value: a.metrics.refusedShare.mean * 100 })) },
  ]);
}

/** The README's tables: one per GPU configuration (a row per shape × system), then the verdicts. */
export function markdownReport(aggs: Aggregate[], vs: Verdict[]): string {
  const out: string[] = [];
  const r = (s: Spread, digits: number, scale = 1) => (s.n === 0 ? '—' : s.n === 1 || s.min === s.max ? fmt(s.mean * scale, digits) : `${fmt(s.mean * scale, digits)} (${fmt(s.min * scale, digits)}–${fmt(s.max * scale, digits)})`);
  for (const gpus of [...new Set(aggs.map((a) => a.gpus))]) {
    const rows = aggs.filter((a) => a.gpus === gpus);
    out.push(`**${gpus.replace('x', ' × ')} GB**, seeds ${rows[0].seeds.join(', ')}: mean (min–max) over seeds\n`);
    out.push('| shape | system | loads/1k | GPU time loading | GPU time busy (compute then, of the most) | TTFT p50 s | TTFT p95 s | worst wait s | goodput req/s | served | 429/503 | Retry-After admitted | expected wait: actual − predicted, median s (abs; p90) | Jain | user p95 worst / median s | bulk served | bulk makespan s |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const a of rows) {
      const m = a.metrics;
      out.push(
        `| ${a.shape} | ${a.system} | ${r(m.loadsPer1000, 0)} | ${fmt(m.loadingShare.mean * 100, 0)}% | ${computeCell(a)} | ${fmt(m.ttftP50.mean, 1)} | ${r(m.ttftP95, 1)} | ${fmt(m.worstWait.mean, 0)} | ${r(m.goodput, 2)} | ${fmt(m.servedShare.mean * 100, 1)}% | ${fmt(m.refusedShare.mean * 100, 1)}% | ${m.retryAdmitted.n ? `${fmt(m.retryAdmitted.mean * 100, 0)}%` : '—'} | ${m.expectedWaitErr.n ? `${fmt(m.expectedWaitErr.mean, 1)} (abs ${fmt(m.expectedWaitAbsErr.mean, 1)}; p90 ${m.expectedWaitErrP90.n === m.expectedWaitErr.n ? fmt(m.expectedWaitErrP90.mean, 1) : '—'})` : '—'} | ${fmt(m.jain.mean, 2)} | ${fmt(m.worstUserP95.mean, 0)} / ${fmt(m.medianUserP95.mean, 0)} | ${m.bulkServedShare.n ? `${fmt(m.bulkServedShare.mean * 100, 1)}%` : '—'} | ${m.bulkServedShare.n ? r(m.bulkMakespan, 0) : '—'} |`,
      );
    }
    out.push('');
  }
  if (vs.some((v) => v.intervals?.loads)) out.push(`Each ratio is of the means over seeds; in brackets, ${INTERVAL_LABEL} (each seed drawn whole, with replacement).\n`);
  out.push('| shape | GPUs | fewer loads than the best proxy (target ≥ 5×; the most any system could reach) | lower interactive p95 TTFT (≥ 3×) | goodput vs the best proxy (≥ 1×) | every bulk request served |');
  out.push('|---|---|---|---|---|---|');
  for (const v of vs) {
    out.push(
      `| ${v.shape} | ${v.gpus} | ${fmt(v.loadsRatio, 2)}× (${v.bestProxy.loads}) ${v.met.loads ? '✓' : '✗'}${interval(v.intervals?.loads)} (≤ ${fmt(v.loadsCeiling, 1)}×) | ${fmt(v.p95Ratio, 2)}× (${v.bestProxy.p95}) ${v.met.p95 ? '✓' : '✗'}${interval(v.intervals?.p95)} | ${fmt(v.goodputRatio, 2)}× (${v.bestProxy.goodput}) ${v.met.goodput ? '✓' : '✗'}${interval(v.intervals?.goodput)} | ${v.met.bulk ? '✓' : '✗'} |`,
    );
  }
  return out.join('\n') + '\n';
}

/** A run's `results.json`: its configuration, its traces' facts and bounds, and every system run. */
export interface ResultsBody {
  config: Record<string, unknown>;
  traces: Array<Record<string, unknown>>;
  runs: RunRecord[];
}

export function writeResults(outDir: string, body: Record<string, unknown>): void {
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}

/** Prints the tables and verdicts of `body.runs` and writes results.json (with them), summary.md and chart.svg to `outDir`. */
export function writeReport(outDir: string, body: ResultsBody, footer: string): void {
  const aggs = aggregate(body.runs);
  const vs = withIntervals(verdicts(aggs), body.runs, TARGETS);
  printTables(aggs, console.log);
  printVerdicts(vs, console.log);
  console.log(`\n${footer}`);
  writeResults(outDir, { config: body.config, traces: body.traces, aggregates: aggs, verdicts: vs, runs: body.runs });
  writeFileSync(path.join(outDir, 'summary.md'), markdownReport(aggs, vs));
  const distinct = <T>(xs: T[]) => [...new Set(xs)];
  const shapes = distinct(body.runs.map((r) => r.shape));
  const gpus = distinct(body.runs.map((r) => r.gpus));
  const seeds = distinct(body.runs.map((r) => r.seed)).sort((a, b) => a - b);
  writeFileSync(path.join(outDir, 'chart.svg'), chartSvg(`Switchyard vs the best proxy: ${shapes.length} shapes × ${gpus.join(', ')} × seeds ${seeds.join(',')}`, vs, aggs));
}
