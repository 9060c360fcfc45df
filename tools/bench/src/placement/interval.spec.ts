import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fewer, seedInterval, withIntervals } from './interval';
import type { RunRecord, Verdict } from './report';

test('seeds that all give the same ratio give an interval of that ratio alone', () => {
  const i = seedInterval(
    [
      { ours: 40, theirs: 200 },
      { ours: 20, theirs: 100 },
      { ours: 30, theirs: 150 },
    ],
    fewer,
    5,
  );
  assert.ok(i);
  assert.ok(Math.abs(i.low - 5) < 1e-9 && Math.abs(i.high - 5) < 1e-9, `${i.low}–${i.high}`);
  assert.equal(i.metShare, 1);
});

test('a ratio met on the means but not on every seed shows an interval that reaches below the target', () => {
  // Means 37.5 and 187.5: exactly 5×; the seeds range from 3.5× to 7×.
  const pairs = [
    { ours: 40, theirs: 140 },
    { ours: 35, theirs: 245 },
    { ours: 38, theirs: 190 },
    { ours: 37, theirs: 175 },
  ];
  const i = seedInterval(pairs, fewer, 5);
  assert.ok(i);
  assert.ok(i.low < 4.6 && i.high > 5.4, `${i.low}–${i.high}`);
  assert.ok(i.metShare > 0.2 && i.metShare < 0.8, `${i.metShare}`);
  // The same runs give the same interval: the report does not change between two merges of them.
  assert.deepEqual(seedInterval(pairs, fewer, 5), i);
});

test('one seed has no spread to show', () => {
  assert.equal(seedInterval([{ ours: 40, theirs: 200 }], fewer, 5), undefined);
});

function run(system: string, seed: number, loadsPer1000: number, ttftP95: number, goodput: number): RunRecord {
  return { shape: 'heavy-user', gpus: '4x80', seed, summary: { system, loadsPer1000, ttftP95, goodput } as RunRecord['summary'] };
}

test('each figure is paired by seed with the proxy the verdict chose for it', () => {
  const runs = [
    run('switchyard', 1, 40, 70, 3),
    run('switchyard', 2, 40, 70, 3),
    run('switchyard', 3, 40, 70, 3),
    // affinity: best on loads; least-busy: best on p95 and goodput. Seed 3 of least-busy is missing.
    run('affinity', 1, 200, 400, 1),
    run('affinity', 2, 160, 400, 1),
    run('affinity', 3, 240, 400, 1),
    run('least-busy', 1, 400, 210, 2),
    run('least-busy', 2, 400, 210, 2),
  ];
  const verdict = { shape: 'heavy-user', gpus: '4x80', bestProxy: { loads: 'affinity', p95: 'least-busy', goodput: 'least-busy' } } as Verdict;
  const [v] = withIntervals([verdict], runs, { loads: 5, p95: 3, goodput: 1 });
  const { loads, p95, goodput } = v.intervals ?? {};
  assert.ok(loads && p95 && goodput);
  // Loads: affinity's 160–240 against 40, so 4×–6× over seeds.
  assert.ok(loads.low >= 4 && loads.high <= 6 && loads.low < 5 && loads.high > 5, `${loads.low}–${loads.high}`);
  // p95 and goodput: least-busy on seeds 1 and 2 only, the same on both.
  assert.ok(Math.abs(p95.low - 3) < 1e-9 && Math.abs(p95.high - 3) < 1e-9);
  assert.ok(Math.abs(goodput.low - 1.5) < 1e-9 && goodput.metShare === 1);
});
