import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPolicy, POLICY_NAMES } from './policy.factory';
import { demand, model, resident, state, worker } from './cluster-state.fixtures';

const NOW = 1_000_000_000;
const small = { contextWindow: 1024 };
const catalogue = [model('p:8b', 5, { ...small, pinned: 1 }), model('a:7b', 5, small), model('b:7b', 5, small), model('huge:70b', 40, small)];

test('every policy name builds a policy with that name', () => {
  for (const name of POLICY_NAMES) assert.equal(createPolicy(name).name, name);
});

test('none never commands anything', () => {
  const s = state({ catalogue, workers: [worker('w1', 48)], demand: [demand('a:7b', { waiting: 9, oldestWaitMs: 500_000 })] });
  assert.deepEqual(createPolicy('none').decide(s, NOW), []);
});

test('static fills GPUs in catalogue order regardless of demand, and never evicts', () => {
  const policy = createPolicy('static');
  const s = state({ catalogue, workers: [worker('w1', 13), worker('w2', 13)], demand: [demand('b:7b', { waiting: 50, oldestWaitMs: 500_000 })] });
  assert.deepEqual(
    policy.decide(s, NOW).map((c) => `${c.kind}:${c.workerId}:${c.model}`),
    ['load:w1:p:8b', 'load:w2:a:7b'],
  );
  const full = state({
    catalogue,
    workers: [worker('w1', 6.5, { resident: [resident('a:7b', 6)] })],
    demand: [demand('b:7b', { waiting: 50, oldestWaitMs: 500_000 })],
  });
  assert.deepEqual(policy.decide(full, NOW), []);
});

test('lru loads on demand and evicts the least recently used model that is not running a job', () => {
  const policy = createPolicy('lru');
  const w = worker('w1', 13, { resident: [resident('a:7b', 6, { loadedAtMs: NOW - 1000 }), resident('b:7b', 6, { loadedAtMs: NOW - 1000 })] });
  const s = state({
    catalogue,
    workers: [w],
    demand: [demand('p:8b', { waiting: 1, oldestWaitMs: 10 }), demand('a:7b', { waiting: 3, idleMs: 0 }), demand('b:7b', { idleMs: 90_000 })],
  });
  assert.deepEqual(
    policy.decide(s, NOW).map((c) => `${c.kind}:${c.model}`),
    ['evict:b:7b'],
  );
});
