import { prng } from '../trace';
import type { RunRecord, Verdict } from './report';

/**
 * How sure a verdict is: each ratio of means over seeds (Switchyard against the best proxy) with a
 * percentile interval from resampling the seeds. A resample draws as many seeds as were run, with
 * replacement, and takes each drawn seed whole (both systems' runs of its trace), so the interval
 * shows how far the ratio moves with the seeds that happened to be drawn. With a handful of seeds it
 * is rough, and it says nothing of what the seeds cannot show (another trace shape, another machine),
 * but a target met at 5.1× whose interval reaches 4× is not the same finding as one met at 8×.
 */

export interface RatioInterval {
  low: number;
  high: number;
  /** Share of resamples in which the ratio met its target. */
  metShare: number;
}

export interface IntervalOptions {
  resamples: number;
  /** Central share of the resampled ratios the interval holds. */
  level: number;
  /** Seed of the resampling (fixed: the same runs give the same interval). */
  seed: number;
}

export const DEFAULT_INTERVAL_OPTIONS: IntervalOptions = { resamples: 2000, level: 0.9, seed: 1 };

/** How far ahead Switchyard (`ours`) is on a figure where less is better (loads, waits), and where more is (goodput). */
export const fewer = (ours: number, theirs: number): number => theirs / ours;
export const more = (ours: number, theirs: number): number => ours / theirs;

/** One trace's figure for both sides of a ratio. */
export interface SeedPair {
  ours: number;
  theirs: number;
}

/**
 * The interval of `ratio(mean of ours, mean of theirs)` over resamples of `pairs` (one per seed), and
 * how often it reached `target`. Undefined with fewer than two seeds: one seed has no spread to show.
 */
export function seedInterval(pairs: SeedPair[], ratio: (ours: number, theirs: number) => number, target: number, opts: IntervalOptions = DEFAULT_INTERVAL_OPTIONS): RatioInterval | undefined {
  const valid = pairs.filter((p) => Number.isFinite(p.ours) && Number.isFinite(p.theirs));
  if (valid.length < 2) return undefined;
  const rnd = prng(opts.seed);
  const ratios: number[] = [];
  for (let i = 0; i < opts.resamples; i++) {
    let ours = 0;
    let theirs = 0;
    for (let j = 0; j < valid.length; j++) {
      const p = valid[Math.floor(rnd() * valid.length)];
      ours += p.ours;
      theirs += p.theirs;
    }
    ratios.push(ratio(ours / valid.length, theirs / valid.length));
  }
  ratios.sort((a, b) => a - b);
  const at = (q: number) => ratios[Math.min(ratios.length - 1, Math.max(0, Math.floor(q * ratios.length)))];
  const tail = (1 - opts.level) / 2;
  // A ratio at its target in exact arithmetic may land a rounding error below it: it is met.
  const met = ratios.filter((r) => r >= target * (1 - 1e-9)).length;
  return { low: at(tail), high: at(1 - tail), metShare: met / ratios.length };
}

/**
 * The verdicts with their intervals: per (shape, GPUs), each figure paired by seed between Switchyard
 * and the proxy that was best on it over all seeds (the verdict's own choice).
 */
export function withIntervals(vs: Verdict[], runs: RunRecord[], targets: { loads: number; p95: number; goodput: number }, opts: IntervalOptions = DEFAULT_INTERVAL_OPTIONS): Verdict[] {
  const bySeed = (shape: string, gpus: string, system: string) => new Map(runs.filter((r) => r.shape === shape && r.gpus === gpus && r.summary.system === system).map((r) => [r.seed, r.summary]));
  return vs.map((v) => {
    const sy = bySeed(v.shape, v.gpus, 'switchyard');
    const pairs = (proxy: string, figure: (s: RunRecord['summary']) => number): SeedPair[] => {
      const theirs = bySeed(v.shape, v.gpus, proxy);
      return [...sy].filter(([seed]) => theirs.has(seed)).map(([seed, s]) => ({ ours: figure(s), theirs: figure(theirs.get(seed)!) }));
    };
    return {
      ...v,
      intervals: {
        loads: seedInterval(pairs(v.bestProxy.loads, (s) => s.loadsPer1000), fewer, targets.loads, opts),
        p95: seedInterval(pairs(v.bestProxy.p95, (s) => s.ttftP95), fewer, targets.p95, opts),
        goodput: seedInterval(pairs(v.bestProxy.goodput, (s) => s.goodput), more, targets.goodput, opts),
      },
    };
  });
}
