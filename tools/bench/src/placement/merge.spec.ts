import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeResults } from './merge';
import { aggregate, ResultsBody, RunRecord, verdicts } from './report';
import { RunSummary } from './summary';

/** One system's run of steady 4x80 on `seed`, with the figures a verdict reads. */
function run(system: string, seed: number, loadsPer1000: number, ttftP95: number): RunRecord {
  const summary = {
    system,
    requests: 1000,
    served: 1000,
    interactiveRequests: 1000,
    interactiveServed: 1000,
    bulkRequests: 0,
    bulkServed: 0,
    loadsPer1000,
    loadsOverBound: loadsPer1000 / 15,
    ttftP95,
    goodput: 2,
    fairness: { jain: 1, worstUserP95: ttftP95, medianUserP95: ttftP95 },
    retryAfter: { expectedWaitSamples: 0, retriedAfterWait: 0 },
  } as unknown as RunSummary;
  return { shape: 'steady', gpus: '4x80', seed, summary };
}

const config = (seeds: number[], simComputeSharing = 'per-gpu') => ({ shapes: ['steady'], gpus: ['4x80'], seeds, load: 0.8, requests: 1200, simComputeSharing, minutes: 10 });
const results = (seeds: number[], runs: RunRecord[], sharing?: string): ResultsBody => ({ config: config(seeds, sharing), traces: [], runs });

test('a merged report judges the targets on the means over every seed of the runs merged', () => {
  const a = results([1], [run('switchyard', 1, 40, 30), run('affinity', 1, 240, 120)]);
  const b = results([2], [run('switchyard', 2, 60, 50), run('affinity', 2, 160, 120)]);
  assert.equal(verdicts(aggregate(a.runs))[0].met.loads, true, 'the first run alone: 6x fewer loads');
  const merged = mergeResults([
    { name: 'a', body: a },
    { name: 'b', body: b },
  ]);
  const [v] = verdicts(aggregate(merged.runs));
  assert.equal(v.loadsRatio, 4, '200 / 50 per 1,000 over both seeds');
  assert.equal(v.met.loads, false);
  assert.equal(v.p95Ratio, 3);
  assert.deepEqual(merged.config.seeds, [1, 2]);
  assert.equal(merged.config.minutes, 20);
  assert.deepEqual(merged.config.mergedFrom, ['a', 'b']);
});

test('runs that ran differently do not merge: compute sharing, like every other setting, must agree', () => {
  const a = results([1], [run('switchyard', 1, 40, 30)]);
  const b = results([2], [run('switchyard', 2, 60, 50)], 'per-model');
  assert.throws(
    () =>
      mergeResults([
        { name: 'a', body: a },
        { name: 'b', body: b },
      ]),
    /b ran with simComputeSharing "per-model", a with "per-gpu"/,
  );
});

test('a trace a system ran in two of the runs does not merge (its seed would count twice)', () => {
  const a = results([1], [run('switchyard', 1, 40, 30)]);
  const b = results([1, 2], [run('switchyard', 1, 41, 31), run('switchyard', 2, 60, 50)]);
  assert.throws(
    () =>
      mergeResults([
        { name: 'a', body: a },
        { name: 'b', body: b },
      ]),
    /switchyard steady 4x80 seed 1 is in more than one run/,
  );
});
