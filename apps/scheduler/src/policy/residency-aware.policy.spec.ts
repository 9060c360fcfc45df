import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterState, Command, WorkerSnapshot } from './cluster-state';
import { ResidencyAwarePolicy } from './residency-aware.policy';
import { demand, model, resident, state, worker, GB } from './cluster-state.fixtures';
import { estimateFootprintBytes, estimateLoadSeconds } from './cost-model';
import { ClusterPlan } from './cluster-plan';

const NOW = 1_000_000_000;
const LONG_AGO = NOW - 3_600_000;
/**
 * The defaults that run (SCHEDULER_* unset: 5 s residency, 60 s wait bound, 10 s idle and keep
 * horizon), with tail rotation off: these tests pin the rules every model follows inside its pool's
 * resident set (most of their made-up clusters have no arrival rates, so every model would be
 * tail). Rotation has its own tests in tail-rotation.spec.ts.
 */
const NO_ROTATION = { tailRoundWaitMs: 0 };
const policy = new ResidencyAwarePolicy(NO_ROTATION);

// Small contexts keep the KV part of the estimates small, so sizes read as "GB of memory".
const small = { contextWindow: 1024 };
const A = model('a:7b', 5, small);
const B = model('b:7b', 5, small);
const C = model('c:7b', 5, small);
const BIG = model('big:70b', 40, small);
const catalogue = [A, B, C, BIG];

function decide(s: ClusterState, now = NOW): Command[] {
  return policy.decide(s, now);
}

function loads(cmds: Command[]) {
  return cmds.filter((c) => c.kind === 'load').map((c) => `${c.workerId}:${c.model}:${c.reason}`);
}
function evicts(cmds: Command[]) {
  return cmds.filter((c) => c.kind === 'evict').map((c) => `${c.workerId}:${c.model}->${c.kind === 'evict' ? c.forModel : ''}:${c.reason}`);
}

/** A worker with room for exactly one 5 GB model besides what it holds. */
function fullWorker(id: string, held: string[], extra: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  return worker(id, 6.5 * Math.max(1, held.length), {
    resident: held.map((m) => resident(m, 6, { loadedAtMs: LONG_AGO })),
    ...extra,
  });
}

describe('cost model', () => {
  test('memory estimate: weights, overhead and a KV cache for num_ctx × slots', () => {
    const llama8b = model('llama3.1:8b', 4.9);
    // 4.9 GB × 1.05 + 128 KiB × 8192 × 4 = 5.145 GB + 4.295 GB
    assert.equal(Math.round(estimateFootprintBytes(llama8b, 4) / 1e6), Math.round((4.9e9 * 1.05 + 131072 * 8192 * 4) / 1e6));
    assert.ok(estimateFootprintBytes(llama8b, 1) < estimateFootprintBytes(llama8b, 4));
  });
  test('load time falls back to size / 10 GB/s + 1.5 s', () => {
    assert.equal(estimateLoadSeconds(model('x', 40)), 5.5);
  });
});

describe('fit', () => {
  test('a model with waiting jobs is loaded on a worker where it fits', () => {
    const s = state({ catalogue, workers: [worker('w1', 24)], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(loads(decide(s)), ['w1:a:7b:demand']);
  });

  test("a worker holds at most maxModelsPerWorker models (Ollama's OLLAMA_MAX_LOADED_MODELS), whatever memory is left", () => {
    const capped = new ResidencyAwarePolicy({ ...NO_ROTATION, minResidencyMs: 30_000, maxWaitMs: 120_000, replicateWaitMs: 10_000, idleAfterMs: 60_000, maxModelsPerWorker: 2 });
    const D = model('d:7b', 5, small);
    const held = worker('w1', 80, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO }), resident('b:7b', 6, { loadedAtMs: LONG_AGO })] });
    const s = state({ catalogue: [...catalogue, D], workers: [held], demand: [demand('d:7b', { waiting: 1, oldestWaitMs: 100 })] });
    const cmds = capped.decide(s, NOW);
    assert.deepEqual(loads(cmds), [], 'no third model loaded beside two');
    assert.equal(evicts(cmds).length, 1, 'an idle model makes room instead');
    assert.deepEqual(loads(policy.decide(s, NOW)), ['w1:d:7b:demand'], 'with the default cap of 3 it fits');
  });

  test('a model that fits only alone (mistral-large:123b on 80 GB) is placed on an emptied GPU', () => {
    const large = model('mistral-large:123b', 73, { contextWindow: 4096, kvBytesPerToken: 352 * 1024 });
    const held = worker('w1', 80, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO })] });
    const s = state({ catalogue: [...catalogue, large], workers: [held], demand: [demand('mistral-large:123b', { waiting: 2, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(decide(s)), ['w1:a:7b->mistral-large:123b:demand']);
    const empty = state({ ...s, workers: [worker('w1', 80)] });
    assert.deepEqual(loads(decide(empty)), ['w1:mistral-large:123b:demand']);
  });

  test("Ollama's fit rule: next to loaded models, a new one may take only 80% of the free memory", () => {
    // 20 GB GPU holding 6 GB: 14 GB free, 95% capacity leaves 13 GB, but Ollama loads a 12 GB model
    // next to another only if 12 <= 0.8 x 14 = 11.2 — it would evict our model itself. We evict first.
    const M = model('m:12b', 11, { contextWindow: 1024, kvBytesPerToken: 1 });
    const held = worker('w1', 20, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO })] });
    const need = (gb: number) => state({ catalogue: [...catalogue, { ...M, sizeBytes: Math.round((gb / 1.05) * GB) }], workers: [held], demand: [demand('m:12b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(loads(decide(need(12))), [], 'not loaded beside a:7b');
    assert.deepEqual(evicts(decide(need(12))), ['w1:a:7b->m:12b:demand'], 'the idle model makes room');
    assert.deepEqual(loads(decide(need(11))), ['w1:m:12b:demand'], '11 GB <= 11.2 GB loads beside it');
  });

  test('a popular model is placed beside popular models, not on a GPU that holds only rarely used ones', () => {
    const w1 = worker('w1', 64, { resident: [resident('b:7b', 6, { loadedAtMs: LONG_AGO })] });
    const w2 = worker('w2', 48, { resident: [resident('c:7b', 6, { loadedAtMs: LONG_AGO })] });
    const popularB = demand('b:7b', { arrivalRate: 1, idleMs: 1_000 });
    const rareC = demand('c:7b', { arrivalRate: 0.001, idleMs: 1_000 });
    const place = (rate: number) => loads(decide(state({ catalogue, workers: [w1, w2], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100, arrivalRate: rate }), popularB, rareC] })));
    assert.deepEqual(place(0.5), ['w1:a:7b:demand'], 'a popular model goes beside b');
    assert.deepEqual(place(0.001), ['w2:a:7b:demand'], 'a rare one takes the tightest fit');
  });

  test('a model larger than any GPU is never loaded', () => {
    const s = state({ catalogue, workers: [worker('w1', 24)], demand: [demand('big:70b', { waiting: 5, oldestWaitMs: 100_000 })] });
    assert.deepEqual(decide(s), []);
  });

  test('it goes to the worker with room, not the full one', () => {
    const s = state({
      catalogue,
      workers: [fullWorker('w1', ['b:7b']), worker('w2', 48, { resident: [resident('c:7b', 6)] })],
      demand: [demand('a:7b', { waiting: 2, oldestWaitMs: 500 })],
    });
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:demand']);
  });

  test('one command per worker per round: the higher-priority model goes first', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 48)],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 }), demand('b:7b', { waiting: 6, oldestWaitMs: 3000 })],
    });
    assert.deepEqual(loads(decide(s)), ['w1:b:7b:demand']);
  });

  test('a worker already loading gets nothing more; the load counts as a replica in progress', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 48, { loading: { model: 'a:7b', sinceMs: NOW - 1000 } }), worker('w2', 48)],
      demand: [demand('a:7b', { waiting: 9, oldestWaitMs: 20_000 }), demand('b:7b', { waiting: 1, oldestWaitMs: 10 })],
    });
    assert.deepEqual(loads(decide(s)), ['w2:b:7b:demand']);
  });

  test('a model whose load just failed on a worker is tried elsewhere', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 48, { loadBlockedUntil: { 'a:7b': NOW + 10_000 } }), worker('w2', 48)],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 10 })],
    });
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:demand']);
  });

  test('the measured size of a loaded model replaces the estimate on other workers', () => {
    // Estimated, codellama-like 13B with a large KV cache would fit in 16 GB; measured, it does not.
    const cl = model('cl:13b', 7.4, small);
    const measured = worker('w1', 80, { resident: [resident('cl:13b', 20, { loadedAtMs: LONG_AGO })] });
    const s = state({
      catalogue: [cl],
      workers: [measured, worker('w2', 16)],
      demand: [demand('cl:13b', { waiting: 40, oldestWaitMs: 30_000 })],
    });
    assert.deepEqual(decide(s), []);
  });
});

describe('hysteresis and no needless evictions', () => {
  test('nothing happens when nothing waits, even with idle models resident', () => {
    const s = state({ catalogue, workers: [fullWorker('w1', ['b:7b', 'c:7b'])], demand: [demand('b:7b'), demand('c:7b')] });
    assert.deepEqual(decide(s), []);
  });

  test('an idle model stays while there is free memory for the newcomer', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 48, { resident: [resident('b:7b', 6, { loadedAtMs: LONG_AGO })] })],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 50 }), demand('b:7b')],
    });
    const cmds = decide(s);
    assert.deepEqual(evicts(cmds), []);
    assert.deepEqual(loads(cmds), ['w1:a:7b:demand']);
  });

  test('an idle model makes room for a model with demand; the load follows the eviction', () => {
    const before = state({ catalogue, workers: [fullWorker('w1', ['b:7b'])], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 50 }), demand('b:7b')] });
    const first = decide(before);
    assert.deepEqual(evicts(first), ['w1:b:7b->a:7b:demand']);
    assert.deepEqual(loads(first), []);
    // While the eviction runs nothing else is done for a:7b.
    const during = state({ ...before, workers: [fullWorker('w1', ['b:7b'], { evicting: [{ model: 'b:7b', forModel: 'a:7b' }] })] });
    assert.deepEqual(decide(during), []);
    const after = state({ ...before, workers: [worker('w1', 6.5)] });
    assert.deepEqual(loads(decide(after)), ['w1:a:7b:demand']);
  });

  test('with displaceAfterMs, a lone request waits for company before it displaces anything; a batch does not wait', () => {
    const gathering = new ResidencyAwarePolicy({ ...NO_ROTATION, displaceAfterMs: 15_000 });
    const withWait = (waiting: number, oldestWaitMs: number) =>
      state({ catalogue, workers: [fullWorker('w1', ['b:7b'])], demand: [demand('a:7b', { waiting, oldestWaitMs }), demand('b:7b')] });
    assert.deepEqual(gathering.decide(withWait(1, 5_000), NOW), [], 'one request, 5 s: it waits');
    assert.deepEqual(evicts(gathering.decide(withWait(1, 15_000), NOW)), ['w1:b:7b->a:7b:demand'], 'after 15 s it displaces the idle model');
    assert.deepEqual(evicts(gathering.decide(withWait(4, 1_000), NOW)), ['w1:b:7b->a:7b:demand'], 'a batch (the slots) at once');
    // Free memory is taken at once: nothing is displaced.
    const free = state({ catalogue, workers: [worker('w1', 48)], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 50 })] });
    assert.deepEqual(loads(gathering.decide(free, NOW)), ['w1:a:7b:demand']);
  });

  test('a model inside its minimum residency is not evicted', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 6.5, { resident: [resident('b:7b', 6, { loadedAtMs: NOW - 4_000 })] })],
      demand: [demand('a:7b', { waiting: 50, oldestWaitMs: 55_000 }), demand('b:7b')],
    });
    assert.deepEqual(decide(s), []);
  });

  test('a model with queued work is not evicted for ordinary demand (its batch drains first)', () => {
    const s = state({
      catalogue,
      workers: [fullWorker('w1', ['b:7b'])],
      demand: [demand('a:7b', { waiting: 20, oldestWaitMs: 20_000 }), demand('b:7b', { waiting: 3, oldestWaitMs: 1_000 })],
    });
    assert.deepEqual(decide(s), []);
  });

  test('an idle model is evicted before a warm one, and the warm one only for more work than it expects', () => {
    const held = fullWorker('w1', ['b:7b', 'c:7b']);
    held.memoryTotalBytes = 16 * GB; // room for the two it holds, nothing more (a needs 80% of what is free)
    // b expects 0.3/s × 10 s horizon = 3 requests.
    const warmB = demand('b:7b', { idleMs: 5_000, arrivalRate: 0.3 });
    const idleC = demand('c:7b', { idleMs: 600_000 });
    const one = state({ catalogue, workers: [held], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 }), warmB, idleC] });
    assert.deepEqual(evicts(decide(one)), ['w1:c:7b->a:7b:demand']);

    const onlyWarm = state({ ...one, workers: [fullWorker('w1', ['b:7b'])], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 }), warmB] });
    assert.deepEqual(decide(onlyWarm), [], 'one job does not justify displacing a warm model');
    const three = state({ ...onlyWarm, demand: [demand('a:7b', { waiting: 2, oldestWaitMs: 100 }), warmB] });
    assert.deepEqual(decide(three), [], 'nor two');
    const batch = state({ ...onlyWarm, demand: [demand('a:7b', { waiting: 4, oldestWaitMs: 100 }), warmB] });
    assert.deepEqual(evicts(decide(batch)), ['w1:b:7b->a:7b:demand']);
  });

  test('a rarely used warm model does not make a single waiting request wait for a batch', () => {
    const rareB = demand('b:7b', { idleMs: 5_000, arrivalRate: 0.005 }); // one request every 200 s
    const s = state({ catalogue, workers: [fullWorker('w1', ['b:7b'])], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 }), rareB] });
    assert.deepEqual(evicts(decide(s)), ['w1:b:7b->a:7b:demand']);
    const busy = state({ ...s, workers: [fullWorker('w1', ['b:7b'], { resident: [resident('b:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 1 })] })] });
    assert.deepEqual(decide(busy), [], 'a model running a job is not displaced by one request');
  });

  test('the evicted set is as small as needed', () => {
    const w = worker('w1', 20, {
      resident: [resident('b:7b', 3, { loadedAtMs: LONG_AGO }), resident('c:7b', 3, { loadedAtMs: LONG_AGO }), resident('big:70b', 12, { loadedAtMs: LONG_AGO })],
    });
    const s = state({ catalogue, workers: [w], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 })] });
    // a:7b needs ≈ 5.8 GB; 1 GB is free; b and c (3 GB each) are enough — the big one stays.
    assert.deepEqual(evicts(decide(s)).sort(), ['w1:b:7b->a:7b:demand', 'w1:c:7b->a:7b:demand']);
  });

  test('no evictions while holding after a restart, but loads into free memory go on', () => {
    const s = state({
      catalogue,
      holdEvictions: true,
      workers: [fullWorker('w1', ['b:7b']), worker('w2', 48)],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100_000 }), demand('c:7b', { waiting: 1, oldestWaitMs: 100 })],
    });
    const cmds = decide(s);
    assert.deepEqual(evicts(cmds), []);
    assert.deepEqual(loads(cmds), ['w2:a:7b:aging']);
  });
});

describe('aging', () => {
  const hotHolder = () => fullWorker('w1', ['b:7b']);
  const hotB = demand('b:7b', { waiting: 30, oldestWaitMs: 2_000, arrivalRate: 5, idleMs: 0 });

  test('a rare model waiting well under the bound does not displace a busy model', () => {
    const s = state({ catalogue, workers: [hotHolder()], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 20_000 }), hotB] });
    assert.deepEqual(decide(s), []);
  });

  test('once its wait plus load time reaches half the bound, it displaces a busy model', () => {
    const s = state({ catalogue, workers: [hotHolder()], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 28_500 }), hotB] });
    assert.deepEqual(evicts(decide(s)), ['w1:b:7b->a:7b:aging']);
  });

  test('a forced model still respects the minimum residency of what it would displace', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 6.5, { resident: [resident('b:7b', 6, { loadedAtMs: NOW - 4_000 })] })],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 90_000 }), hotB],
    });
    assert.deepEqual(decide(s), []);
  });

  test('a starving model displaces the model expected to be asked for least, waiting for its worker if busy', () => {
    // w1 holds a fairly popular model (b, 2.4 requests a minute) between two of its requests; w2 a
    // tail model (c, one request in ten minutes) that has served its batch, and may be busy finishing
    // an eviction. Both may go for a (2 jobs waiting 31 s are worth more than the 1.2 requests b
    // expects within that wait, the longest cold wait of the pool).
    const popularB = demand('b:7b', { arrivalRate: 0.04, idleMs: 2_000 });
    const tailC = demand('c:7b', { arrivalRate: 1 / 600, idleMs: 2_000 });
    const starving = demand('a:7b', { waiting: 2, oldestWaitMs: 31_000 });
    const catalogueD = [...catalogue, model('d:7b', 5, small)];
    const full = state({ catalogue: catalogueD, demand: [starving, popularB, tailC], workers: [fullWorker('w1', ['b:7b']), { ...fullWorker('w2', ['c:7b']) }] });
    assert.deepEqual(evicts(decide(full)), ['w2:c:7b->a:7b:aging'], 'the tail model goes, not the popular one');
    const busy = state({ ...full, workers: [fullWorker('w1', ['b:7b']), { ...fullWorker('w2', ['c:7b']), evicting: [{ model: 'd:7b' }] }] });
    assert.deepEqual(decide(busy), [], 'w2 is busy for a moment: wait for it rather than evict b');
  });

  test('a forced model does not displace one that has waited even longer', () => {
    const s = state({
      catalogue,
      workers: [hotHolder()],
      demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 61_000 }), demand('b:7b', { waiting: 3, oldestWaitMs: 70_000 })],
    });
    assert.deepEqual(decide(s), []);
  });

  test('the oldest starving model is served first', () => {
    const s = state({
      catalogue,
      workers: [worker('w1', 48)],
      demand: [demand('b:7b', { waiting: 50, oldestWaitMs: 5_000, arrivalRate: 10 }), demand('a:7b', { waiting: 1, oldestWaitMs: 100_000 })],
    });
    assert.deepEqual(loads(decide(s)), ['w1:a:7b:aging']);
  });

  test('simulated: under constant load from two hot models, a rare model gets a GPU within the bound', () => {
    const maxWaitMs = policy.opts.maxWaitMs;
    const sim = new TinyCluster([A, B, C], ['b:7b', 'c:7b']);
    const rareArrives = 5_000;
    let rareLoadedAt: number | undefined;
    for (let t = 0; t <= 200_000 && rareLoadedAt === undefined; t += 500) {
      const now = NOW + t;
      const d = [
        demand('b:7b', { waiting: 20, oldestWaitMs: 3_000, arrivalRate: 4, idleMs: 0 }),
        demand('c:7b', { waiting: 20, oldestWaitMs: 3_000, arrivalRate: 4, idleMs: 0 }),
        demand('a:7b', t >= rareArrives ? { waiting: 1, oldestWaitMs: t - rareArrives } : {}),
      ];
      sim.step(policy.decide(sim.state(d), now), now);
      if (sim.holds('a:7b')) rareLoadedAt = t;
    }
    assert.ok(rareLoadedAt !== undefined, 'the rare model was never loaded');
    assert.ok(rareLoadedAt - rareArrives <= maxWaitMs, `waited ${rareLoadedAt - rareArrives} ms`);
    assert.ok(rareLoadedAt - rareArrives >= 25_000, 'it should not have displaced a busy model early');
  });
});

describe('contention', () => {
  // BIG (40 GB) fits no worker here: its demand only makes the pool look the way it would under load.
  const idleC = demand('c:7b', { idleMs: 600_000 });

  test('at low load one waiting job displaces an idle model; while another model starves, only a batch does', () => {
    const one = demand('a:7b', { waiting: 1, oldestWaitMs: 100 });
    const quiet = state({ catalogue, workers: [fullWorker('w1', ['c:7b'])], demand: [one, idleC] });
    assert.deepEqual(evicts(decide(quiet)), ['w1:c:7b->a:7b:demand']);

    const starving = demand('big:70b', { waiting: 1, oldestWaitMs: 100_000 });
    const busy = state({ ...quiet, demand: [one, idleC, starving] });
    assert.deepEqual(decide(busy), [], 'a single job waits to be part of a batch');
    const batch = state({ ...quiet, demand: [demand('a:7b', { waiting: 4, oldestWaitMs: 100 }), idleC, starving] });
    assert.deepEqual(evicts(decide(batch)), ['w1:c:7b->a:7b:demand']);
  });

  test('a popular model is valued over the longest cold wait when that is longer than the keep horizon', () => {
    const shortHorizon = new ResidencyAwarePolicy({ ...NO_ROTATION, minResidencyMs: 30_000, maxWaitMs: 120_000, replicateWaitMs: 10_000, idleAfterMs: 60_000, keepHorizonMs: 10_000 });
    // b: 0.1 request/s, so 1 expected within 10 s; a has 2 jobs waiting.
    const warmB = demand('b:7b', { idleMs: 5_000, arrivalRate: 0.1 });
    const two = demand('a:7b', { waiting: 2, oldestWaitMs: 100 });
    const s = state({ catalogue, workers: [fullWorker('w1', ['b:7b'])], demand: [two, warmB] });
    assert.deepEqual(evicts(shortHorizon.decide(s, NOW)), ['w1:b:7b->a:7b:demand']);
    // Another model has waited 30 s (not yet starving): evicting b would cost b's next 3 requests.
    const waited = state({ ...s, demand: [two, warmB, demand('big:70b', { waiting: 1, oldestWaitMs: 30_000 })] });
    assert.deepEqual(shortHorizon.decide(waited, NOW), []);
  });
});

describe('replication', () => {
  const serving = () => worker('w1', 48, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 })] });

  test('a hot model whose queue wait grows gets another replica', () => {
    const s = state({ catalogue, workers: [serving(), worker('w2', 48)], demand: [demand('a:7b', { waiting: 12, oldestWaitMs: 15_000, arrivalRate: 3, idleMs: 0 })] });
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:replicate']);
  });

  test('no replica while the queue moves quickly or holds less than a batch', () => {
    const fast = state({ catalogue, workers: [serving(), worker('w2', 48)], demand: [demand('a:7b', { waiting: 12, oldestWaitMs: 2_000 })] });
    assert.deepEqual(decide(fast), []);
    const few = state({ catalogue, workers: [serving(), worker('w2', 48)], demand: [demand('a:7b', { waiting: 2, oldestWaitMs: 30_000 })] });
    assert.deepEqual(decide(few), []);
  });

  test('one new replica at a time', () => {
    const s = state({
      catalogue,
      workers: [serving(), worker('w2', 48, { loading: { model: 'a:7b', sinceMs: NOW - 2000 } }), worker('w3', 48)],
      demand: [demand('a:7b', { waiting: 40, oldestWaitMs: 30_000, idleMs: 0 })],
    });
    assert.deepEqual(decide(s), []);
  });

  test('a replica displaces idle models but never another model with queued work', () => {
    const busyElsewhere = fullWorker('w2', ['b:7b']);
    const s = state({
      catalogue,
      workers: [serving(), busyElsewhere],
      demand: [demand('a:7b', { waiting: 12, oldestWaitMs: 15_000, idleMs: 0 }), demand('b:7b', { waiting: 1, oldestWaitMs: 500 })],
    });
    assert.deepEqual(decide(s), []);
    const idleElsewhere = state({ ...s, demand: [demand('a:7b', { waiting: 12, oldestWaitMs: 15_000, idleMs: 0 }), demand('b:7b')] });
    assert.deepEqual(evicts(decide(idleElsewhere)), ['w2:b:7b->a:7b:replicate']);
  });
});

describe('replication by expected wait', () => {
  // a:7b on w1 with 4 slots; its jobs take 4 s each (measured), so n queued jobs wait n s.
  const serving = () => worker('w1', 48, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 })] });
  const hot = (waiting: number, extra: Partial<ReturnType<typeof demand>> = {}) =>
    demand('a:7b', { waiting, interactiveWaiting: waiting, oldestWaitMs: 2_000, serviceMs: 4_000, arrivalRate: 2, idleMs: 0, ...extra });

  test('the expected wait is queued interactive jobs × service time ÷ serving slots, + the load when cold', () => {
    const s = state({ catalogue, workers: [serving(), worker('w2', 48)] });
    const plan = new ClusterPlan(s, NOW, policy.opts);
    assert.equal(policy.expectedWaitMs(plan, hot(80)), 80_000);
    assert.equal(policy.expectedWaitMs(plan, hot(80, { bulkWaiting: 500, waiting: 580 })), 80_000, 'bulk jobs do not count');
    assert.equal(policy.expectedWaitMs(plan, demand('b:7b', { waiting: 4, serviceMs: 4_000 })), estimateLoadSeconds(B) * 1000 + 4_000);
  });

  test('a model whose expected wait reaches three quarters of the bound gets a replica at once, before its oldest job has waited long', () => {
    // The edge refuses beyond the 60 s bound: at 45 s the replica has the last quarter to load.
    const s = state({ catalogue, workers: [serving(), worker('w2', 48)], demand: [hot(45)] });
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:replicate']);
    const within = state({ ...s, demand: [hot(30, { oldestWaitMs: 2_000 })] });
    assert.deepEqual(decide(within), [], '30 s expected: half the bound, and the queue moves');
    const fastJobs = state({ ...s, demand: [hot(80, { serviceMs: 1_000 })] });
    assert.deepEqual(decide(fastJobs), [], 'with 1 s jobs 80 queued are 20 s');
  });

  test('such a replica displaces a warm model worth less than its queue once its expected wait reaches the whole bound, never a backlogged one', () => {
    const warmB = demand('b:7b', { idleMs: 2_000, arrivalRate: 0.2 });
    const s = state({ catalogue, workers: [serving(), fullWorker('w2', ['b:7b'])], demand: [hot(80), warmB] });
    assert.deepEqual(evicts(decide(s)), ['w2:b:7b->a:7b:replicate']);
    // 50 s expected: a replica is due, but the copy it has keeps up; b, evicted, would be loaded again.
    assert.deepEqual(decide(state({ ...s, demand: [hot(50), warmB] })), [], 'below the bound, not in place of a warm model');
    const idleB = state({ ...s, demand: [hot(50), demand('b:7b')] });
    assert.deepEqual(evicts(decide(idleB)), ['w2:b:7b->a:7b:replicate'], 'but in place of an idle one');
    const dearB = state({ ...s, demand: [hot(80), demand('b:7b', { idleMs: 2_000, arrivalRate: 20 })] });
    assert.deepEqual(decide(dearB), [], 'b expects 200 requests within the horizon: worth more than 80 queued');
    const backlogged = state({ ...s, demand: [hot(80), demand('b:7b', { waiting: 2, interactiveWaiting: 2, oldestWaitMs: 1_000 })] });
    assert.deepEqual(decide(backlogged), []);
  });

  test('requests the edge told to come back count: a queue the edge keeps short by refusing still gets its replica', () => {
    // 20 queued (20 s expected) is within three quarters of the bound; 40 more refused and coming back make it 60 s.
    const s = state({ catalogue, workers: [serving(), worker('w2', 48)], demand: [hot(20, { deferred: 40 })] });
    const plan = new ClusterPlan(s, NOW, policy.opts);
    assert.equal(policy.expectedWaitMs(plan, hot(20, { deferred: 40 })), 60_000);
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:replicate']);
    assert.deepEqual(decide(state({ ...s, demand: [hot(20)] })), [], 'without them, no replica');
  });

  test('no replica where no other GPU can take it', () => {
    const s = state({ catalogue, workers: [serving(), worker('w2', 4)], demand: [hot(200)] });
    assert.deepEqual(decide(s), []);
  });
});

describe('bulk as fill for idle capacity', () => {
  const bulkOnly = (m: string, bulk: number, extra: Partial<ReturnType<typeof demand>> = {}) =>
    demand(m, { waiting: bulk, interactiveWaiting: 0, bulkWaiting: bulk, oldestWaitMs: 200_000, oldestInteractiveWaitMs: 0, idleMs: 0, ...extra });

  test('queued bulk jobs, however old, never force a load nor displace a warm model', () => {
    const warmB = demand('b:7b', { idleMs: 2_000, arrivalRate: 0.05 });
    const s = state({ catalogue, workers: [fullWorker('w1', ['b:7b'])], demand: [bulkOnly('a:7b', 1_000), warmB] });
    assert.deepEqual(decide(s), []);
    const room = state({ ...s, workers: [fullWorker('w1', ['b:7b']), worker('w2', 24)] });
    assert.deepEqual(loads(decide(room)), ['w2:a:7b:demand'], 'but they fill a free GPU');
    const idle = state({ ...s, demand: [bulkOnly('a:7b', 1_000), demand('b:7b')] });
    assert.deepEqual(evicts(decide(idle)), ['w1:b:7b->a:7b:demand'], 'or take an idle model’s place');
  });

  test('interactive work comes first for a GPU: a bulk-only model goes after it', () => {
    const s = state({ catalogue, workers: [worker('w1', 7)], demand: [bulkOnly('c:7b', 5_000), demand('b:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(loads(decide(s)), ['w1:b:7b:demand']);
  });

  test('a model busy with bulk jobs only gives its GPU to a single interactive request', () => {
    const bulkBusy = fullWorker('w1', ['c:7b'], { resident: [resident('c:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 })] });
    const s = state({ catalogue, workers: [bulkBusy], demand: [bulkOnly('c:7b', 300, { active: 4 }), demand('a:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(decide(s)), ['w1:c:7b->a:7b:demand']);
    const interactiveBusy = state({ ...s, demand: [demand('c:7b', { active: 4, idleMs: 0, arrivalRate: 0.5 }), demand('a:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(decide(interactiveBusy), [], 'the same model busy with interactive jobs keeps it');
  });

  test('a model with interactive jobs waiting is never displaced for bulk work', () => {
    const held = fullWorker('w1', ['a:7b']);
    const s = state({ catalogue, workers: [held], demand: [demand('a:7b', { waiting: 1, interactiveWaiting: 1, oldestWaitMs: 100 }), bulkOnly('c:7b', 50_000)] });
    assert.deepEqual(evicts(decide(s)), []);
  });

  test('a large bulk queue gets another replica only into free memory or idle models', () => {
    const held = worker('w1', 48, { resident: [resident('c:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 })] });
    const big = bulkOnly('c:7b', 500, { serviceMs: 4_000, active: 4 });
    const s = state({ catalogue, workers: [held, worker('w2', 48)], demand: [big] });
    assert.deepEqual(loads(decide(s)), ['w2:c:7b:replicate'], '500 jobs × 4 s ÷ 4 slots is far over the bound');
    const warmElsewhere = state({ catalogue, workers: [held, fullWorker('w2', ['b:7b'])], demand: [big, demand('b:7b', { idleMs: 2_000, arrivalRate: 0.05 })] });
    assert.deepEqual(decide(warmElsewhere), [], 'never in place of a warm model');
    const small = state({ ...s, demand: [bulkOnly('c:7b', 20, { serviceMs: 4_000, active: 4 })] });
    assert.deepEqual(decide(small), [], 'a short bulk queue drains on one copy');
  });
});

describe('models larger than any GPU of their pool', () => {
  const HUGE = model('huge:405b', 120, small);
  const offloaded = { ...HUGE, offload: true };
  const wanted = [demand('huge:405b', { waiting: 2, oldestWaitMs: 1_000 })];

  test('refused by default: never placed', () => {
    const s = state({ catalogue: [...catalogue, HUGE], workers: [worker('w1', 80), worker('w2', 40)], demand: wanted });
    assert.deepEqual(decide(s), []);
  });

  test('with offload allowed, placed alone on the largest GPU of the pool', () => {
    const s = state({ catalogue: [...catalogue, offloaded], workers: [worker('w1', 40), worker('w2', 80), worker('w3', 48)], demand: wanted });
    assert.deepEqual(loads(decide(s)), ['w2:huge:405b:demand']);
    const held = state({ ...s, workers: [worker('w1', 40), worker('w2', 80, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO })] })] });
    assert.deepEqual(evicts(decide(held)), ['w2:a:7b->huge:405b:demand'], 'it takes the whole GPU: the idle model makes room');
    const otherPool = state({ ...s, workers: [worker('w1', 40), worker('p1', 80, { pool: 'performance' })] });
    assert.deepEqual(loads(decide(otherPool)), ['w1:huge:405b:demand'], 'the largest of its own pool');
  });

  test('a model that fits some GPU of its pool is never offloaded to a smaller one', () => {
    const fits = { ...model('mid:70b', 40, small), offload: true };
    const s = state({ catalogue: [fits], workers: [worker('w1', 24), worker('w2', 48, { resident: [resident('a:7b', 6, { loadedAtMs: NOW - 1_000 })] })], demand: [demand('mid:70b', { waiting: 3, oldestWaitMs: 1_000 })] });
    assert.deepEqual(decide(s), [], 'it waits for the 48 GB GPU rather than run on the CPU of the 24 GB one');
  });
});

describe('pins', () => {
  const P = model('p:8b', 5, { ...small, pinned: 1 });

  test('a pinned model is loaded without demand', () => {
    const s = state({ catalogue: [P, A], workers: [worker('w1', 48)] });
    assert.deepEqual(loads(decide(s)), ['w1:p:8b:pin']);
  });

  test('a pinned model is never evicted below its pinned count', () => {
    const s = state({
      catalogue: [P, A],
      workers: [worker('w1', 6.5, { resident: [resident('p:8b', 6, { loadedAtMs: LONG_AGO })] })],
      demand: [demand('a:7b', { waiting: 50, oldestWaitMs: 100_000 })],
    });
    assert.deepEqual(decide(s), []);
  });

  test('a pin is only placed in free memory or in place of idle models', () => {
    const s = state({ catalogue: [P, A, B], workers: [fullWorker('w1', ['b:7b'])], demand: [demand('b:7b', { idleMs: 1000, arrivalRate: 0.5 })] });
    assert.deepEqual(decide(s), []);
    const idle = state({ ...s, demand: [] });
    assert.deepEqual(evicts(decide(idle)), ['w1:b:7b->p:8b:pin']);
  });

  test('a pinned model resident but not pulled is re-enabled in place', () => {
    const s = state({
      catalogue: [P],
      workers: [worker('w1', 48, { resident: [resident('p:8b', 6, { pulling: false, loadedAtMs: LONG_AGO })] }), worker('w2', 48)],
    });
    assert.deepEqual(loads(decide(s)), ['w1:p:8b:pin']);
  });
});

describe('pools', () => {
  test('a worker only serves its own pool', () => {
    const s = state({
      catalogue,
      workers: [worker('shared-1', 48), worker('perf-1', 48, { pool: 'performance' })],
      demand: [demand('a:7b', { pool: 'performance', waiting: 3, oldestWaitMs: 100 })],
    });
    assert.deepEqual(loads(decide(s)), ['perf-1:a:7b:demand']);
  });

  test('demand in a pool with no workers places nothing', () => {
    const s = state({ catalogue, workers: [worker('shared-1', 48)], demand: [demand('a:7b', { pool: 'performance', waiting: 3, oldestWaitMs: 100_000 })] });
    assert.deepEqual(decide(s), []);
  });

  test('pins apply in the model’s catalogue pool', () => {
    const P = model('p:8b', 5, { ...small, pinned: 1, pool: 'performance' });
    const s = state({ catalogue: [P], workers: [worker('shared-1', 48), worker('perf-1', 48, { pool: 'performance' })] });
    assert.deepEqual(loads(decide(s)), ['perf-1:p:8b:pin']);
  });
});

describe('pending bulk lines (batch service)', () => {
  test('a cold model with only pending bulk lines is loaded, once, when a GPU has room', () => {
    const s = state({ catalogue, workers: [worker('w1', 24)], demand: [demand('b:7b', { bulkPending: 500 })] });
    assert.deepEqual(loads(decide(s)), ['w1:b:7b:demand']);
    const loading = state({ ...s, workers: [worker('w1', 24, { loading: { model: 'b:7b', sinceMs: NOW - 1000 } })] });
    assert.deepEqual(decide(loading), [], 'not loaded twice while its load is under way');
    const held = state({ ...s, workers: [worker('w1', 24, { resident: [resident('b:7b', 6, { loadedAtMs: NOW - 1000 })] })] });
    assert.deepEqual(decide(held), [], 'nothing more once it is resident');
  });

  test('it takes an idle model, but never displaces a model with interactive waiting work or a warm one', () => {
    const cold = demand('c:7b', { bulkPending: 10_000 });
    const idle = state({ catalogue, workers: [fullWorker('w1', ['a:7b'])], demand: [cold] });
    assert.deepEqual(evicts(decide(idle)), ['w1:a:7b->c:7b:demand'], 'an idle model makes room for a batch');
    const backlogged = state({ catalogue, workers: [fullWorker('w1', ['a:7b'], { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 })] })], demand: [demand('a:7b', { waiting: 3, active: 4, oldestWaitMs: 2000, idleMs: 0 }), cold] });
    assert.deepEqual(decide(backlogged), [], 'interactive waiting work keeps its GPU');
    const warm = state({ catalogue, workers: [fullWorker('w1', ['a:7b'])], demand: [demand('a:7b', { idleMs: 5000, arrivalRate: 0.01 }), cold] });
    assert.deepEqual(decide(warm), [], 'a recently used model keeps its GPU');
    const otherBatch = state({ catalogue, workers: [fullWorker('w1', ['a:7b'])], demand: [demand('a:7b', { bulkPending: 1 }), cold] });
    assert.deepEqual(decide(otherBatch), [], 'nor does one batch displace another');
  });

  test('a batch’s queued lines take the place of a model whose lines are only held back (a batch feeds one model at a time)', () => {
    // Seen in the benchmark: the batch service fed c (32 jobs queued) while a and b, needed later by
    // the batch, held the GPUs; neither yielded, and the batch never finished.
    const s = state({
      catalogue,
      workers: [fullWorker('w1', ['a:7b'])],
      demand: [demand('a:7b', { bulkPending: 50, idleMs: 600_000 }), demand('c:7b', { waiting: 32, interactiveWaiting: 0, bulkWaiting: 32, bulkPending: 53, oldestWaitMs: 500_000, oldestInteractiveWaitMs: 0 })],
    });
    assert.deepEqual(evicts(decide(s)), ['w1:a:7b->c:7b:demand']);
    const running = state({ ...s, workers: [fullWorker('w1', ['a:7b'], { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 2 })] })] });
    assert.deepEqual(decide(running), [], 'a model running its batch’s jobs keeps its GPU');
  });

  test('bulk-only models go after every model with queued work, and only into room left over', () => {
    // A GPU with room for one model: the interactive request gets it, the batch waits.
    const s = state({ catalogue, workers: [worker('w1', 7)], demand: [demand('c:7b', { bulkPending: 10_000 }), demand('b:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(loads(decide(s)), ['w1:b:7b:demand']);
  });

  test('a model with many pending bulk lines is not the first victim', () => {
    // Two models on a worker that holds at most two, both unused for long: the one a batch still needs
    // stays, though it would come first by name.
    const capped = new ResidencyAwarePolicy({ ...NO_ROTATION, minResidencyMs: 30_000, maxWaitMs: 120_000, replicateWaitMs: 10_000, idleAfterMs: 60_000, maxModelsPerWorker: 2 });
    const held = worker('w1', 80, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO }), resident('b:7b', 6, { loadedAtMs: LONG_AGO })] });
    const s = state({ catalogue, workers: [held], demand: [demand('a:7b', { bulkPending: 2000 }), demand('b:7b'), demand('c:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(capped.decide(s, NOW)), ['w1:b:7b->c:7b:demand']);
    const noBulk = state({ ...s, demand: [demand('a:7b'), demand('b:7b'), demand('c:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(capped.decide(noBulk, NOW)), ['w1:a:7b->c:7b:demand'], 'without the batch, a would go');
  });

  test('pending bulk lines never protect a model from interactive waiting work', () => {
    const s = state({ catalogue, workers: [fullWorker('w1', ['a:7b'])], demand: [demand('a:7b', { bulkPending: 50_000 }), demand('c:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(decide(s)), ['w1:a:7b->c:7b:demand']);
  });

  test('a worker whose victim has no pending bulk lines is preferred', () => {
    const w1 = fullWorker('w1', ['a:7b']);
    const w2 = fullWorker('w2', ['b:7b']);
    const s = state({ catalogue, workers: [w1, w2], demand: [demand('a:7b', { bulkPending: 100 }), demand('b:7b'), demand('c:7b', { waiting: 1, oldestWaitMs: 100 })] });
    assert.deepEqual(evicts(decide(s)), ['w2:b:7b->c:7b:demand']);
  });
});

describe('lost, disconnected and degraded workers', () => {
  test('when the worker holding a model is gone, the model is placed elsewhere', () => {
    const d = [demand('a:7b', { waiting: 3, oldestWaitMs: 4_000 })];
    const withBoth = state({ catalogue, workers: [serveA('w1'), worker('w2', 48)], demand: d });
    assert.deepEqual(decide(withBoth), []);
    const afterLoss = state({ catalogue, workers: [worker('w2', 48)], demand: d });
    assert.deepEqual(loads(decide(afterLoss)), ['w2:a:7b:demand']);
  });

  test('a disconnected worker gets no commands but its models still count', () => {
    const gone = serveA('w1', { connected: false });
    const s = state({ catalogue, workers: [gone, worker('w2', 48)], demand: [demand('a:7b', { waiting: 1, oldestWaitMs: 100 }), demand('b:7b', { waiting: 1, oldestWaitMs: 50 })] });
    assert.deepEqual(loads(decide(s)), ['w2:b:7b:demand']);
    assert.ok(!decide(state({ catalogue, workers: [worker('w1', 48, { connected: false })], demand: [demand('a:7b', { waiting: 1 })] })).length);
  });

  test('a degraded worker gets no commands and its models serve no one', () => {
    const s = state({ catalogue, workers: [serveA('w1', { degraded: true }), worker('w2', 48)], demand: [demand('a:7b', { waiting: 2, oldestWaitMs: 100 })] });
    assert.deepEqual(loads(decide(s)), ['w2:a:7b:demand']);
  });
});

function serveA(id: string, extra: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  return worker(id, 48, { resident: [resident('a:7b', 6, { loadedAtMs: LONG_AGO })], ...extra });
}

/** A toy cluster of one GPU that carries out commands: loads take 3 s, evictions 1 s. */
class TinyCluster {
  private w: WorkerSnapshot;
  private pending: { at: number; apply: () => void }[] = [];

  constructor(
    private readonly models: ReturnType<typeof model>[],
    initial: string[],
  ) {
    this.w = worker('gpu', 6.5 * initial.length, { resident: initial.map((m) => resident(m, 6, { loadedAtMs: LONG_AGO, busySlots: 4 })) });
  }

  state(d: ClusterState['demand']): ClusterState {
    return state({ catalogue: this.models, workers: [structuredClone(this.w)], demand: d });
  }

  holds(m: string): boolean {
    return this.w.resident.some((r) => r.model === m);
  }

  step(cmds: Command[], now: number): void {
    for (const p of this.pending.filter((p) => p.at <= now)) p.apply();
    this.pending = this.pending.filter((p) => p.at > now);
    for (const c of cmds) {
      if (c.kind === 'evict') {
        this.w.evicting.push({ model: c.model, forModel: c.forModel });
        this.pending.push({
          at: now + 1000,
          apply: () => {
            this.w.resident = this.w.resident.filter((r) => r.model !== c.model);
            this.w.evicting = this.w.evicting.filter((e) => e.model !== c.model);
          },
        });
      } else {
        this.w.loading = { model: c.model, sinceMs: now };
        this.pending.push({
          at: now + 3000,
          apply: () => {
            this.w.loading = undefined;
            this.w.resident.push(resident(c.model, 6, { loadedAtMs: now + 3000 }));
          },
        });
      }
    }
  }
}
