import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COST_MODEL } from '../policy';
import { GB, model, resident, worker } from '../policy/cluster-state.fixtures';
import { computeResidency } from './residency.service';

// llama3.1:70b at 8192 × 4 slots: 40 GB × 1.05 + 320 KiB × 32768 ≈ 52.7 GB.
const big = model('llama3.1:70b', 40, { kvBytesPerToken: 320 * 1024 });
const small = model('llama3.1:8b', 4.9, { kvBytesPerToken: 128 * 1024 });
const entry = (workers: Parameters<typeof computeResidency>[1], name: string) =>
  computeResidency([big, small], workers, 0, DEFAULT_COST_MODEL).find((e) => e.model === name);

test('a model no GPU of its pool can hold, even alone, is published as not servable, with the figures', () => {
  const e = entry([worker('w1', 40), worker('w2', 24)], 'llama3.1:70b');
  assert.equal(e?.servable, false);
  assert.equal(Math.round((e?.needBytes ?? 0) / GB), 53);
  assert.equal(e?.largestGpuBytes, 40 * GB);
  assert.equal(entry([worker('w1', 40)], 'llama3.1:8b')?.servable, true);
});

test('one GPU large enough makes it servable; unknown while no worker, or one without memory figures, is connected', () => {
  assert.equal(entry([worker('w1', 40), worker('w2', 80)], 'llama3.1:70b')?.servable, true);
  assert.equal(entry([], 'llama3.1:70b')?.servable, undefined);
  assert.equal(entry([worker('w1', 40), worker('w2', 0)], 'llama3.1:70b')?.servable, undefined);
  assert.equal(entry([worker('w1', 80, { connected: false }), worker('w2', 40)], 'llama3.1:70b')?.servable, false, 'a disconnected worker does not count');
  assert.equal(entry([worker('w1', 80, { pool: 'performance' })], 'llama3.1:70b')?.servable, undefined, 'another pool does not count');
});

test('a model whose catalogue entry allows CPU offload is servable on GPUs smaller than it', () => {
  const offloaded = { ...big, offload: true };
  const e = computeResidency([offloaded], [worker('w1', 40), worker('w2', 24)], 0, DEFAULT_COST_MODEL)[0];
  assert.equal(e.servable, true);
  assert.equal(e.largestGpuBytes, 40 * GB);
  assert.equal(computeResidency([offloaded], [], 0, DEFAULT_COST_MODEL)[0].servable, undefined, 'still unknown with no worker');
});

test("host slots: the slots of the pool's GPUs that could hold the model, whether or not they hold it now", () => {
  const pool = [worker('w1', 80), worker('w2', 80, { slots: 2 }), worker('w3', 40), worker('w4', 80, { degraded: true }), worker('w5', 80, { pool: 'performance' })];
  assert.equal(entry(pool, 'llama3.1:70b')?.hostSlots, 6, 'the two 80 GB GPUs of the pool that are up; not the 40 GB one, the degraded one or another pool');
  assert.equal(entry(pool, 'llama3.1:70b')?.slots, 0, 'none holds it now');
  assert.equal(entry(pool, 'llama3.1:8b')?.hostSlots, 10);
  assert.equal(entry([], 'llama3.1:8b')?.hostSlots, undefined, 'unknown with no worker');
});

test("tail rotation: a model on no GPU that the policy holds back carries its round (and since when, while its requests wait), in whole seconds; not one serving, loading, or that an eviction makes room for", () => {
  const held = worker('w1', 80, { resident: [resident('llama3.1:8b', 5)] });
  const tail = () => ({ roundMs: 44_600, waitingSince: 1_234_567 });
  const [big70, small8] = computeResidency([big, small], [held], 0, DEFAULT_COST_MODEL, tail);
  assert.equal(big70.tailRoundMs, 45_000);
  assert.equal(big70.waitingSince, 1_235_000);
  assert.equal(small8.workers.length, 1);
  assert.equal(small8.tailRoundMs, undefined, 'serving: no round to wait for');
  assert.equal(computeResidency([big], [held], 0, DEFAULT_COST_MODEL, () => undefined)[0].tailRoundMs, undefined, 'not held back (or nothing waits and there is room)');
  const startsRound = computeResidency([big], [held], 0, DEFAULT_COST_MODEL, () => ({ roundMs: 44_600 }))[0];
  assert.equal(startsRound.tailRoundMs, 45_000, 'nothing waits and no room: a request now starts the round');
  assert.equal('waitingSince' in startsRound, false);
  assert.equal(computeResidency([big], [held], 0, DEFAULT_COST_MODEL)[0].tailRoundMs, undefined, 'without rotation');
  const loadingIt = worker('w2', 80, { loading: { model: 'llama3.1:70b', sinceMs: 0 } });
  assert.equal(computeResidency([big], [held, loadingIt], 0, DEFAULT_COST_MODEL, tail)[0].tailRoundMs, undefined, 'loading: its round has come');
  const makingRoom = worker('w2', 80, { evicting: [{ model: 'x', forModel: 'llama3.1:70b' }] });
  assert.equal(computeResidency([big], [held, makingRoom], 0, DEFAULT_COST_MODEL, tail)[0].tailRoundMs, undefined, 'room being made for it');
});
