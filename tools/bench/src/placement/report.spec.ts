import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate, spread, verdicts } from './report';

function agg(system: string, loadsPer1000: number, loadsOverBound: number, ttftP95: number, goodput: number): Aggregate {
  const one = (x: number) => spread([x]);
  const none = spread([]);
  return {
    shape: 'steady',
    gpus: '4x80',
    system,
    seeds: [1],
    bulkAllServed: true,
    metrics: {
      loadsPer1000: one(loadsPer1000),
      loadsOverBound: one(loadsOverBound),
      loadsOverInOrder: none,
      loadingShare: none,
      gpuBusyShare: none,
      batchEfficiency: none,
      ttftP50: none,
      ttftP95: one(ttftP95),
      ttftP99: none,
      worstWait: none,
      goodput: one(goodput),
      goodputOfBound: none,
      bulkMakespan: none,
      refusedShare: none,
      servedShare: none,
      interactiveServedShare: none,
      bulkServedShare: none,
      jain: none,
      worstUserP95: none,
      medianUserP95: none,
      retryAdmitted: none,
      expectedWaitAbsErr: none,
      expectedWaitErr: none,
      expectedWaitErrP90: none,
    },
  };
}

test('each target is judged against the best proxy on that figure', () => {
  const [v] = verdicts([agg('switchyard', 50, 1.1, 20, 2), agg('round-robin', 600, 13, 120, 1), agg('affinity', 300, 6.7, 200, 1.5)]);
  assert.equal(v.bestProxy.loads, 'affinity');
  assert.equal(v.bestProxy.p95, 'round-robin');
  assert.equal(v.loadsRatio, 6);
  assert.equal(v.p95Ratio, 6);
  assert.ok(Math.abs(v.goodputRatio - 2 / 1.5) < 1e-9);
  assert.deepEqual(v.met, { loads: true, p95: true, goodput: true, bulk: true });
});

test('the loads ceiling is the best proxy over the distinct-models bound: below 5× no system could meet the target', () => {
  // The best proxy loads each distinct model 3.2 times: even one load per model is only 3.2× fewer.
  const [v] = verdicts([agg('switchyard', 60, 1.3, 20, 2), agg('affinity', 150, 3.2, 100, 1)]);
  assert.equal(v.loadsCeiling, 3.2);
  assert.equal(v.met.loads, false);
});
