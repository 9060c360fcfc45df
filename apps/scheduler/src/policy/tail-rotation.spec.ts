import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterState, Command, ModelDemand } from './cluster-state';
import { ResidencyAwarePolicy, DEFAULT_RESIDENCY_AWARE_OPTIONS } from './residency-aware.policy';
import { demand, model, resident, state, worker } from './cluster-state.fixtures';
import { ClusterPlan } from './cluster-plan';

const NOW = 1_000_000_000;
const LONG_AGO = NOW - 3_600_000;
const small = { contextWindow: 1024 };
const names = ['h1:7b', 'h2:7b', 'h3:7b', 't1:7b', 't2:7b', 't3:7b'];
const catalogue = names.map((n) => model(n, 5, small));
/** Arrival rates: three popular models, three rarely asked for. */
const RATES: Record<string, number> = { 'h1:7b': 1, 'h2:7b': 0.5, 'h3:7b': 0.3, 't1:7b': 0.02, 't2:7b': 0.01, 't3:7b': 0.01 };

/** The defaults that run (rotation on, half a slot per worker), 2 models per worker. */
const policy = new ResidencyAwarePolicy({ maxModelsPerWorker: 2 });
/**
 * The pool's round wait. A 5 GB model's estimated load is 2 s (5 GB at 10 GB/s + 1.5 s) and the tail
 * models here are rare, so the rotation room sustains the shortest round: when a resident model's
 * queue is forced (half the 60 s max wait).
 */
const ROUND = policy.opts.maxWaitMs * policy.opts.agingForceFraction;
/** `tailRoundWaitMs`: the longest round, and (× 1.5) when a tail model may displace the resident set. */
const LONG_ROUND = policy.opts.tailRoundWaitMs;

function loads(cmds: Command[]) {
  return cmds.filter((c) => c.kind === 'load').map((c) => `${c.workerId}:${c.model}:${c.reason}`);
}
function evicts(cmds: Command[]) {
  return cmds.filter((c) => c.kind === 'evict').map((c) => `${c.workerId}:${c.model}->${c.kind === 'evict' ? c.forModel : ''}`);
}

/** Two 48 GB workers holding two models each (idle for a minute), and demand as given (rates from RATES). */
function cluster(held: [string[], string[]], waiting: Record<string, Partial<ModelDemand>>): ClusterState {
  const w = (id: string, models: string[]) => worker(id, 48, { resident: models.map((m) => resident(m, 6, { loadedAtMs: LONG_AGO })) });
  return state({
    catalogue,
    workers: [w('w1', held[0]), w('w2', held[1])],
    demand: names.map((n) => demand(n, { arrivalRate: RATES[n], idleMs: 60_000, ...waiting[n] })),
  });
}

describe('tail rotation', () => {
  test('is on by default', () => {
    assert.ok(DEFAULT_RESIDENCY_AWARE_OPTIONS.tailRoundWaitMs > 0);
  });

  test("the resident set is the most requested models that fit, less the rotation room", () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {});
    const plan = new ClusterPlan(s, NOW, policy.opts);
    // 2 workers × 2 slots, less ceil(2 × 0.5) = 1 rotation slot: three models.
    assert.deepEqual([...policy.residentSet(plan, 'shared')].sort(), ['h1:7b', 'h2:7b', 'h3:7b']);
  });

  test('tells the round a tail model waits for (for the edges), and nothing for the resident set', () => {
    const fresh = new ResidencyAwarePolicy({ maxModelsPerWorker: 2 });
    assert.equal(fresh.tailRoundMs('shared', 't1:7b'), undefined, 'nothing before its first round of decisions');
    fresh.decide(cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {}), NOW);
    assert.equal(fresh.tailRoundMs('shared', 't2:7b'), ROUND);
    assert.equal(fresh.tailRoundMs('shared', 'h1:7b'), undefined);
    assert.equal(new ResidencyAwarePolicy({ tailRoundWaitMs: 0 }).tailRoundMs('shared', 't2:7b'), undefined, 'rotation off');
  });

  test("says whether a tail model's first request would be placed at once or start its round (for the edges)", () => {
    const p = new ResidencyAwarePolicy({ maxModelsPerWorker: 2 });
    assert.equal(p.takesRoomAtOnce('shared', 't2:7b'), true, 'nothing known before its first round of decisions');
    // Every slot held, t1 asked for about twice a round: no room for t2 before its round.
    p.decide(cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {}), NOW);
    assert.equal(p.takesRoomAtOnce('shared', 't2:7b'), false);
    assert.equal(p.takesRoomAtOnce('shared', 'h1:7b'), true, 'the resident set is not held back');
    // t3, asked for less than once a round, is nobody's: t2 would take its place at once.
    p.decide(cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't3:7b']], {}), NOW);
    assert.equal(p.takesRoomAtOnce('shared', 't2:7b'), true);
    // A free slot: at once.
    p.decide(cluster([['h1:7b'], ['h3:7b', 't1:7b']], {}), NOW);
    assert.equal(p.takesRoomAtOnce('shared', 't2:7b'), true);
  });

  test('the round is as short as the rotation room can sustain, and as long as tailRoundWaitMs where it is scarce', () => {
    const rare = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {});
    policy.decide(rare, NOW);
    assert.equal(policy.roundWaitMs('shared'), ROUND, 'three rare tail models, 2 s loads, one rotation slot');
    // Asked for every few seconds, each tail model's round brings a queue of 4 s jobs (18 in 90 s),
    // more than one rotation slot serves in the shortest round.
    const busy = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {});
    busy.demand = busy.demand.map((d) => (d.model.startsWith('t') ? { ...d, arrivalRate: 0.2 } : d));
    policy.decide(busy, NOW);
    assert.equal(policy.roundWaitMs('shared'), LONG_ROUND);
    // In between, a round in between; more GPUs (rotation room, and room for the resident set) shorten it.
    const some = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {});
    some.demand = some.demand.map((d) => (d.model.startsWith('t') ? { ...d, arrivalRate: 0.08 } : d));
    policy.decide(some, NOW);
    const between = policy.roundWaitMs('shared');
    assert.ok(between > ROUND && between < LONG_ROUND, `${between}`);
    some.workers.push(worker('w3', 48), worker('w4', 48));
    policy.decide(some, NOW);
    assert.ok(policy.roundWaitMs('shared') < between);
  });

  test("a tail model's lone request does not evict anything before its round is due", () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't2:7b': { waiting: 1, oldestWaitMs: ROUND / 3 } });
    assert.deepEqual(policy.decide(s, NOW), []);
  });

  test('once its oldest request (plus the load) reaches the round wait, a tail model takes the rotation slot, not a popular model', () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't2:7b': { waiting: 2, oldestWaitMs: ROUND - 1_000 } });
    const cmds = policy.decide(s, NOW);
    assert.deepEqual(evicts(cmds), ['w2:t1:7b->t2:7b']);
  });

  test('a batch of tail requests waits for its round too: one load a round, not one a batch', () => {
    const s = (oldestWaitMs: number) => cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't2:7b': { waiting: 8, oldestWaitMs } });
    assert.deepEqual(policy.decide(s(1_000), NOW), [], 'two batches waiting, the round not due');
    assert.deepEqual(evicts(policy.decide(s(ROUND), NOW)), ['w2:t1:7b->t2:7b']);
  });

  test("a popular model's queue gets a replica by its expected wait, not because a batch has waited a while", () => {
    // h1 on w1 with its 4 slots busy; w2 has room. 8 jobs of 4 s on 4 slots: 8 s expected.
    const s = (waiting: number) => {
      const c = cluster([['h1:7b'], ['h3:7b']], { 'h1:7b': { waiting, interactiveWaiting: waiting, oldestWaitMs: 20_000, serviceMs: 4_000, idleMs: 0 } });
      c.workers[0].resident[0].busySlots = 4;
      return c;
    };
    assert.deepEqual(loads(policy.decide(s(8), NOW)), [], 'waited 20 s, but 8 s expected: the queue moves');
    assert.deepEqual(loads(policy.decide(s(30), NOW)), [], '30 s expected: half the bound, and the queue moves');
    assert.deepEqual(loads(policy.decide(s(45), NOW)), ['w2:h1:7b:replicate'], '45 s expected: three quarters of the bound');
    // Without rotation, the batch that waited past SCHEDULER_REPLICATE_WAIT_MS (10 s) asks for one too.
    const off = new ResidencyAwarePolicy({ maxModelsPerWorker: 2, tailRoundWaitMs: 0 });
    assert.deepEqual(loads(off.decide(s(8), NOW)), ['w2:h1:7b:replicate']);
  });

  test('a tail round in progress is not cut short by the next tail model', () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {
      't1:7b': { waiting: 2, oldestWaitMs: 2_000, idleMs: 0 },
      't2:7b': { waiting: 1, oldestWaitMs: ROUND + 1_000 },
    });
    assert.deepEqual(policy.decide(s, NOW), []);
  });

  test('popular models are displaced by a tail model only when it has waited one and a half of the longest round wait', () => {
    // Every slot holds a resident-set model, or t1, whose round is in progress.
    const full = (oldestWaitMs: number) =>
      cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't1:7b': { waiting: 2, oldestWaitMs: 2_000, idleMs: 0 }, 't2:7b': { waiting: 1, oldestWaitMs } });
    assert.deepEqual(policy.decide(full(LONG_ROUND + 10_000), NOW), [], 'round due, but only popular models to displace');
    assert.equal(evicts(policy.decide(full(1.5 * LONG_ROUND), NOW)).length, 1, 'at one and a half of the longest round wait it takes one');
  });

  test('a tail model whose queue nears the admission bound displaces a popular model without waiting one and a half rounds', () => {
    const full = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], {
      't1:7b': { waiting: 2, oldestWaitMs: 2_000, idleMs: 0 },
      't2:7b': { waiting: 12, oldestWaitMs: ROUND + 1_000, serviceMs: 10_000 },
    });
    // 12 jobs × 10 s ÷ 4 slots + the load: past half the 60 s bound (`tailUrgentFraction`), short of
    // the three quarters at which a copy would be added (`replicateAtFraction`): the two are apart.
    const out = evicts(policy.decide(full, NOW));
    assert.equal(out.length, 1);
    assert.match(out[0], /:h\d:7b->t2:7b$/, 'a popular model, not the tail round in progress');
    const later = new ResidencyAwarePolicy({ maxModelsPerWorker: 2, tailUrgentFraction: 0.9 });
    assert.deepEqual(evicts(later.decide(full, NOW)), [], 'urgent only from its own fraction of the bound');
  });

  test('before its round, a tail model may take the place of an idle model nobody is expected to ask for within a round', () => {
    // w2's second model is dead (no request in its rate window); t1 expects 1.8 requests a round.
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't2:7b': { waiting: 1, oldestWaitMs: 500 }, 't1:7b': { arrivalRate: 0 } });
    assert.deepEqual(evicts(policy.decide(s, NOW)), ['w2:t1:7b->t2:7b']);
  });

  test('free room is taken at once, round or not', () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b']], { 't2:7b': { waiting: 1, oldestWaitMs: 500 } });
    assert.deepEqual(loads(policy.decide(s, NOW)), ['w2:t2:7b:demand']);
  });

  test('a popular model that is cold is placed at once, in place of an idle tail model', () => {
    const s = cluster([['h1:7b', 't3:7b'], ['h3:7b', 't1:7b']], { 'h2:7b': { waiting: 1, oldestWaitMs: 500 } });
    const cmds = policy.decide(s, NOW);
    assert.equal(evicts(cmds).length, 1);
    assert.match(evicts(cmds)[0], /t[13]:7b->h2:7b/);
  });

  test('a model that does not pack beside the popular ones is tail, however often it is asked for', () => {
    const big = model('big:70b', 40, small);
    const s = state({
      catalogue: [...catalogue, big],
      workers: [worker('w1', 48), worker('w2', 48)],
      demand: [...names.map((n) => demand(n, { arrivalRate: RATES[n] })), demand('big:70b', { arrivalRate: 0.4 })],
    });
    const plan = new ClusterPlan(s, NOW, policy.opts);
    // The rotation room (half of one GPU and one slot) leaves no 40 GB hole beside h1 and h2.
    assert.ok(!policy.residentSet(plan, 'shared').has('big:70b'));
    assert.ok(policy.residentSet(plan, 'shared').has('h1:7b'));
  });

  test('a large model asked for often is resident though smaller ones rank above it: the set is packed largest first', () => {
    // Two 80 GB workers, three models each; one holds rotation room (half its memory, one slot). In
    // rank order the three 10 GB models fill the free GPU's slots and big:47b finds no GPU; packed
    // largest first, it has one GPU and the three share the rest (t1 takes the fifth slot either way).
    const sizes: Record<string, number> = { 'h1:8b': 10, 'h2:8b': 10, 'h3:8b': 10, 'big:47b': 47, 't1:3b': 3 };
    const rates: Record<string, number> = { 'h1:8b': 1, 'h2:8b': 0.9, 'h3:8b': 0.8, 'big:47b': 0.7, 't1:3b': 0.01 };
    const s = state({
      catalogue: Object.keys(sizes).map((n) => model(n, sizes[n], small)),
      workers: [worker('w1', 80), worker('w2', 80)],
      demand: Object.keys(sizes).map((n) => demand(n, { arrivalRate: rates[n] })),
    });
    const p = new ResidencyAwarePolicy();
    assert.deepEqual([...p.residentSet(new ClusterPlan(s, NOW, p.opts), 'shared')].sort(), ['big:47b', 'h1:8b', 'h2:8b', 'h3:8b', 't1:3b']);
  });

  test("the rotation room takes the largest tail model asked for: its round displaces tail models, not the resident set's", () => {
    // Two 80 GB workers, three models each: half of one GPU (38 GB) is too small for big:56b (60 GB
    // with its cache), so that GPU keeps room for it and h4 (30 GB) no longer packs beside the rest.
    const sizes: Record<string, number> = { 'h1:8b': 10, 'h2:8b': 10, 'h3:30b': 30, 'h4:30b': 30, 't1:3b': 3, 'big:56b': 56 };
    const rates: Record<string, number> = { 'h1:8b': 1, 'h2:8b': 0.8, 'h3:30b': 0.6, 'h4:30b': 0.4, 't1:3b': 0.2, 'big:56b': 0.05 };
    const held = (models: string[]) => models.map((m) => resident(m, sizes[m], { loadedAtMs: LONG_AGO }));
    const s = state({
      catalogue: Object.keys(sizes).map((n) => model(n, sizes[n], small)),
      workers: [worker('w1', 80, { resident: held(['h4:30b', 't1:3b']) }), worker('w2', 80, { resident: held(['h1:8b', 'h2:8b', 'h3:30b']) })],
      demand: Object.keys(sizes).map((n) => demand(n, { arrivalRate: rates[n], idleMs: 60_000, ...(n === 'big:56b' ? { waiting: 3, oldestWaitMs: LONG_ROUND } : {}) })),
    });
    const p = new ResidencyAwarePolicy();
    assert.deepEqual([...p.residentSet(new ClusterPlan(s, NOW, p.opts), 'shared')].sort(), ['h1:8b', 'h2:8b', 'h3:30b', 't1:3b']);
    // Its round is due: it takes h4's place at once, not after 1.5 × tailRoundWaitMs in place of resident models.
    assert.deepEqual(evicts(p.decide(s, NOW)), ['w1:h4:30b->big:56b']);
  });

  test("a model's copies take places in the resident set: with a replica serving, one model fewer is resident", () => {
    // 2 workers × 2 slots, less the rotation slot: three places. h1's two copies take two of them.
    const s = cluster([['h1:7b', 'h2:7b'], ['h1:7b', 'h3:7b']], {});
    assert.deepEqual([...policy.residentSet(new ClusterPlan(s, NOW, policy.opts), 'shared')].sort(), ['h1:7b', 'h2:7b']);
    // One slot per worker, one of them rotation room: h1's copies do not both pack, one does.
    const oneSlot = new ResidencyAwarePolicy({ maxModelsPerWorker: 1 });
    const s1 = cluster([['h1:7b'], ['h1:7b']], {});
    assert.deepEqual([...oneSlot.residentSet(new ClusterPlan(s1, NOW, oneSlot.opts), 'shared')], ['h1:7b']);
  });

  test('a model held now keeps its place in the resident set against one asked for slightly more often', () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['t1:7b']], {});
    s.demand = s.demand.map((d) => (d.model === 't1:7b' ? { ...d, arrivalRate: 0.25 } : d.model === 'h3:7b' ? { ...d, arrivalRate: 0.3 } : d));
    const plan = new ClusterPlan(s, NOW, policy.opts);
    assert.deepEqual([...policy.residentSet(plan, 'shared')].sort(), ['h1:7b', 'h2:7b', 't1:7b']);
  });

  test('the room an eviction made is kept for the model it was made for, not taken by the next in line', () => {
    const p = new ResidencyAwarePolicy({ maxModelsPerWorker: 2 });
    // Round 1: w1 is evicting t2 to make room for h3 (a resident-set model).
    const during = cluster([['h1:7b', 't2:7b'], ['h2:7b', 't3:7b']], { 'h3:7b': { waiting: 1, oldestWaitMs: 5_000 } });
    during.workers[0].evicting = [{ model: 't2:7b', forModel: 'h3:7b' }];
    assert.deepEqual(p.decide(during, NOW), []);
    // Round 2: the memory is free, and t1's round has come (forced, it goes first among the others).
    const after = (now: number) =>
      cluster([['h1:7b'], ['h2:7b', 't3:7b']], { 'h3:7b': { waiting: 1, oldestWaitMs: 5_000 + now - NOW }, 't1:7b': { waiting: 3, oldestWaitMs: ROUND + now - NOW } });
    const next = p.decide(after(NOW + 100), NOW + 100);
    assert.deepEqual(loads(next), ['w1:h3:7b:demand']);
    // t1 takes another tail model's place instead.
    assert.deepEqual(evicts(next), ['w2:t3:7b->t1:7b']);
    // The room is kept for minResidencyMs: later it goes to whoever is first.
    const q = new ResidencyAwarePolicy({ maxModelsPerWorker: 2 });
    q.decide(during, NOW);
    assert.deepEqual(loads(q.decide(after(NOW + q.opts.minResidencyMs + 100), NOW + q.opts.minResidencyMs + 100)), ['w1:t1:7b:aging']);
  });

  test('a tail model gets no replica: its queue is served in its round', () => {
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b']], { 't1:7b': { waiting: 30, oldestWaitMs: 40_000, serviceMs: 10_000 } });
    s.workers[0].resident.push(resident('t1:7b', 6, { loadedAtMs: LONG_AGO, busySlots: 4 }));
    s.workers[0].memoryTotalBytes = 60e9;
    s.workers[0].resident = s.workers[0].resident.slice(0, 1).concat(s.workers[0].resident.slice(2));
    assert.deepEqual(loads(policy.decide(s, NOW)), []);
    // Without rotation the same queue gets a second copy in w2's free memory.
    const off = new ResidencyAwarePolicy({ maxModelsPerWorker: 2, tailRoundWaitMs: 0 });
    assert.deepEqual(loads(off.decide(s, NOW)), ['w2:t1:7b:replicate']);
  });

  test('with tailRoundWaitMs 0 a lone request displaces an idle model at once (the rules before rotation)', () => {
    const off = new ResidencyAwarePolicy({ maxModelsPerWorker: 2, tailRoundWaitMs: 0 });
    const s = cluster([['h1:7b', 'h2:7b'], ['h3:7b', 't1:7b']], { 't2:7b': { waiting: 1, oldestWaitMs: 500 } });
    assert.equal(evicts(off.decide(s, NOW)).length, 1);
  });
});
