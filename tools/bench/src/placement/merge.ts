import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ResultsBody, RunRecord, writeReport } from './report';

/**
 * `npm run bench -- merge DIR DIR [DIR…] --out DIR`: one report over several runs of the placement
 * benchmark, on the means over every seed they ran between them (issue 16's verdict over more seeds
 * than one run's). Runs merge only when they ran alike: every configuration field but what each ran
 * (shapes, GPU configurations, seeds) and how long it took must agree, compute sharing, load, time
 * scales, client and Switchyard's timings included; and no system may have run a trace twice.
 */

/** Configuration fields that say what a run covered, not how: they may differ between merged runs. */
const COVERAGE = new Set(['shapes', 'gpus', 'seeds', 'minutes', 'mergedFrom']);

export function mergeResults(files: Array<{ name: string; body: ResultsBody }>): ResultsBody {
  if (files.length < 2) throw new Error('merge: give two runs or more');
  const [first, ...others] = files;
  for (const f of others) {
    for (const k of new Set([...Object.keys(first.body.config), ...Object.keys(f.body.config)])) {
      if (COVERAGE.has(k)) continue;
      const a = JSON.stringify(first.body.config[k]);
      const b = JSON.stringify(f.body.config[k]);
      if (a !== b) throw new Error(`merge: ${f.name} ran with ${k} ${b ?? 'unset'}, ${first.name} with ${a ?? 'unset'}`);
    }
  }
  const seen = new Set<string>();
  const runs: RunRecord[] = [];
  for (const f of files) {
    for (const r of f.body.runs) {
      const key = `${r.summary.system} ${r.shape} ${r.gpus} seed ${r.seed}`;
      if (seen.has(key)) throw new Error(`merge: ${key} is in more than one run`);
      seen.add(key);
      runs.push(r);
    }
  }
  const union = <T>(k: string) => [...new Set(files.flatMap((f) => (f.body.config[k] as T[] | undefined) ?? []))];
  const minutes = files.reduce((sum, f) => sum + Number(f.body.config.minutes ?? 0), 0);
  return {
    config: { ...first.body.config, shapes: union<string>('shapes'), gpus: union<string>('gpus'), seeds: union<number>('seeds').sort((a, b) => a - b), minutes, mergedFrom: files.map((f) => f.name) },
    traces: files.flatMap((f) => f.body.traces),
    runs,
  };
}

export function runMerge(argv: string[]): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' } } });
  if (!values.out || positionals.length < 2) throw new Error('Usage: npm run bench -- merge DIR DIR [DIR…] --out DIR (each DIR holding a results.json)');
  const files = positionals.map((dir) => ({ name: dir, body: JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as ResultsBody }));
  const merged = mergeResults(files);
  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  writeReport(out, merged, `${merged.runs.length} system runs from ${positionals.join(', ')}.`);
  console.log(`wrote ${path.join(out, 'results.json')}, summary.md, chart.svg`);
}
