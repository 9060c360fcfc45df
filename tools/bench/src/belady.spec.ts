import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beladyLoads, maxResidentModels } from './belady';
import { generateBurstyTrace } from './trace';

test("Belady's MIN on a textbook sequence", () => {
  // capacity 3, the classic 1 2 3 4 1 2 5 1 2 3 4 5 sequence: MIN makes 7 misses.
  const seq = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5].map(String);
  assert.equal(beladyLoads(seq, 3), 7);
  assert.equal(beladyLoads(seq, 5), 5); // only compulsory loads
  assert.equal(beladyLoads(seq, 1), 12);
});

test('the residency capacity counts smallest models first and respects per-GPU limits', () => {
  assert.equal(maxResidentModels([5, 5, 10, 40], [20, 20], 3), 3);
  assert.equal(maxResidentModels([1, 1, 1, 1, 1, 1, 1], [100, 100], 3), 6);
});

test('a generated trace is deterministic, Zipf-skewed and has a bulk wave', () => {
  const models = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
  const t1 = generateBurstyTrace({ models, requests: 2000, zipf: 1.1, rate: 5, seed: 7 });
  const t2 = generateBurstyTrace({ models, requests: 2000, zipf: 1.1, rate: 5, seed: 7 });
  assert.deepEqual(t1, t2);
  const count = (m: string) => t1.filter((e) => e.model === m && e.priority === 'interactive').length;
  assert.ok(count('a') > 3 * count('f'), `a=${count('a')} f=${count('f')}`);
  assert.ok(t1.filter((e) => e.priority === 'bulk').length >= 150);
  for (let i = 1; i < t1.length; i++) assert.ok(t1[i].t >= t1[i - 1].t);
});
