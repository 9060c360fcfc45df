import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceEntry } from '../trace';
import { distinctModelsBound, fluidFifoTtftP95, inOrderLoadsBound, soloSeconds, throughputBound } from './bounds';

const e = (t: number, model: string, prompt = 100, max = 100): TraceEntry => ({ t, model, prompt_tokens: prompt, max_tokens: max, stream: true, priority: 'interactive', user: 'u1' });

test('the reorder bound is the count of distinct models; the in-order bound can only be higher', () => {
  const trace = ['a', 'b', 'c', 'a', 'b', 'c', 'a'].map((m, i) => e(i, m));
  assert.equal(distinctModelsBound(trace), 3);
  assert.equal(inOrderLoadsBound(trace, 2), 5);
  assert.equal(inOrderLoadsBound(trace, 3), 3);
  assert.ok(inOrderLoadsBound(trace, 1) >= distinctModelsBound(trace));
});

test('work at full slot occupancy: solo seconds / slots^e, the makespan at least the last arrival', () => {
  const speed = () => ({ genTokensPerS: 100, promptTokensPerS: 1000 });
  assert.equal(soloSeconds(e(0, 'a', 1000, 100), speed()), 2);
  const trace = Array.from({ length: 40 }, (_, i) => e(i * 0.1, 'a', 1000, 100)); // 2 s each alone
  const b = throughputBound(trace, speed, 2, 4, 0.5); // 4 slots at exponent 0.5: 2× one stream
  assert.equal(b.workGpuSeconds, 40); // 40 × 2 s / 2
  assert.equal(b.minMakespanS, 20); // 40 GPU-s over 2 GPUs > last arrival 3.9 s
  assert.equal(b.maxRate, 2);
  const sparse = throughputBound([e(0, 'a'), e(100, 'a')], speed, 2, 4, 0.5);
  assert.equal(sparse.minMakespanS, 100); // bounded by arrivals
  assert.ok(Math.abs(sparse.offeredRate - 0.02) < 1e-12);
});

test('the fluid reference: requests spaced out wait for nothing; a burst waits for the work sent before it', () => {
  const speed = () => ({ genTokensPerS: 100, promptTokensPerS: 1000 });
  // 2 s of work each (1 s of prompt), one GPU of 4 slots at exponent 0.5: 2 s of work done per second.
  const spaced = Array.from({ length: 20 }, (_, i) => e(i * 10, 'a', 1000, 100));
  assert.equal(fluidFifoTtftP95(spaced, speed, 1, 4, 0.5), 1, 'only the prompt');
  // 20 at once: the k-th (from 0) waits k × 2 s ÷ 2 = k s, then its 1 s prompt; the 19th of 20 is the p95.
  const burst = Array.from({ length: 20 }, () => e(0, 'a', 1000, 100));
  assert.equal(fluidFifoTtftP95(burst, speed, 1, 4, 0.5), 19);
  assert.equal(fluidFifoTtftP95(burst, speed, 2, 4, 0.5), 10, 'twice the GPUs, half the wait');
  const withBulk = [...burst, ...Array.from({ length: 20 }, () => ({ ...e(0, 'a', 1000, 100), priority: 'bulk' as const }))];
  assert.equal(fluidFifoTtftP95(withBulk, speed, 1, 4, 0.5), 19, 'bulk is left out');
});
