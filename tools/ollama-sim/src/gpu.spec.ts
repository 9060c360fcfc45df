import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveEntry, SimModel } from './catalogue';
import { Gpu, Lease, QUEUE_FULL_MESSAGE, QueueFullError, RequestCanceledError } from './gpu';
import { makeTestGpu } from './testing';

const GB = 1e9;

function model(name: string, sizeGb: number, extra: Partial<Parameters<typeof resolveEntry>[0]> = {}): SimModel {
  return resolveEntry({ name, size_gb: sizeGb, context_length: 32768, family: 'llama', parameter_size: '8B', kv_kib_per_token: 1, ...extra });
}

const A = model('a:1', 10);
const B = model('b:1', 5);
const C = model('c:1', 9);
const EIGHT_B = model('llama3.1:8b', 4.9);

const makeGpu = makeTestGpu;

const loaded = (gpu: Gpu) => gpu.runnerInfos().map((r) => r.model.name).sort();

async function use(gpu: Gpu, m: SimModel, keepAliveS: number, numCtx = 1024): Promise<void> {
  const lease = await gpu.acquire(m, numCtx, keepAliveS);
  await lease.compute({ promptTokens: 10, genTokens: 2 });
  lease.release();
}

describe('Gpu scheduler', () => {
  test('default num_ctx follows total VRAM, clamped to the trained context', () => {
    const big = model('big:1', 5, { context_length: 131072 });
    assert.equal(makeGpu({ vramBytes: 80 * GB }).gpu.defaultNumCtx(big), 131072);
    assert.equal(makeGpu({ vramBytes: 80 * GB }).gpu.defaultNumCtx(model('x:1', 5, { context_length: 300000 })), 262144);
    assert.equal(makeGpu({ vramBytes: 40 * GB }).gpu.defaultNumCtx(big), 32768);
    assert.equal(makeGpu({ vramBytes: 16 * GB }).gpu.defaultNumCtx(big), 4096);
    assert.equal(makeGpu({ contextLength: 8192 }).gpu.defaultNumCtx(big), 8192);
    assert.equal(makeGpu().gpu.numCtxFor(big, 999999), 131072);
  });

  test('memory prediction grows with num_ctx × num_parallel', () => {
    const { gpu } = makeGpu({ numParallel: 4 });
    const m = model('kv:1', 4.9, { kv_kib_per_token: 128 });
    assert.equal(gpu.predictBytes(m, 8192) - m.sizeBytes, 8192 * 4 * 128 * 1024);
  });

  test('load_duration covers the load: size / bandwidth + start-up', async () => {
    const { gpu, stats } = makeGpu({ timeScale: 100 });
    const lease = await gpu.acquire(EIGHT_B, 2048, 300);
    const simSeconds = ((lease.handoverAt - lease.arrivedAt) * 100) / 1000;
    assert.ok(Math.abs(simSeconds - 1.99) / 1.99 < 0.02, `load took ${simSeconds}s simulated`);
    lease.release();
    const again = await gpu.acquire(EIGHT_B, 2048, 300);
    // No second load: handed over well within the first load's time (not within 1 ms: on a busy
    // machine a timer or the event loop can take that long).
    const loadMs = lease.handoverAt - lease.arrivedAt;
    assert.ok(again.handoverAt - again.arrivedAt < loadMs / 4, `a loaded model is handed over at once (${again.handoverAt - again.arrivedAt} ms, the load took ${loadMs} ms)`);
    again.release();
    assert.equal(stats.snapshot().models['llama3.1:8b'].loads, 1);
    gpu.close();
  });

  test('requests that arrive while their model loads all get it once the load ends (the load is not restarted or lost)', async () => {
    const { gpu, stats } = makeGpu({ timeScale: 100 });
    const leases = await Promise.all(Array.from({ length: 6 }, () => gpu.acquire(EIGHT_B, 2048, 300)));
    assert.equal(leases.length, 6);
    assert.equal(stats.snapshot().models['llama3.1:8b'].loads, 1);
    for (const l of leases) l.release();
    gpu.close();
  });

  test('eviction picks the idle runner with the shortest keep_alive, not the least recently used', async () => {
    const { gpu, stats } = makeGpu({ maxLoaded: 2 });
    await use(gpu, B, 60);
    await use(gpu, A, 600);
    await use(gpu, B, 60); // B is now the most recently used
    await use(gpu, C, 300);
    assert.deepEqual(loaded(gpu), ['a:1', 'c:1']);
    assert.equal(stats.snapshot().models['b:1'].evictions, 1);
    gpu.close();
  });

  test('a model that does not fit in 80% of free memory evicts one; one that fits loads beside', async () => {
    const { gpu } = makeGpu({ vramBytes: 20 * GB, maxLoaded: 0 });
    await use(gpu, A, 300); // 10 GB; free 10, 80% = 8
    await use(gpu, B, 300); // 5 GB fits
    assert.deepEqual(loaded(gpu), ['a:1', 'b:1']);
    await use(gpu, C, 300); // 9 GB > 0.8 × 5: evict until it fits
    assert.ok(loaded(gpu).includes('c:1'));
    assert.ok(gpu.usedBytes() <= 20 * GB);
    gpu.close();
  });

  test('in-flight requests finish before their runner is evicted', async () => {
    const { gpu } = makeGpu({ maxLoaded: 1, timeScale: 100 });
    const events: string[] = [];
    const leaseA = await gpu.acquire(A, 1024, 300);
    const running = leaseA.compute({ promptTokens: 10, genTokens: 50 }).then(() => {
      events.push('a done');
      leaseA.release();
    });
    const leaseB = gpu.acquire(B, 1024, 300).then((l: Lease) => {
      events.push('b handed over');
      return l;
    });
    await running;
    (await leaseB).release();
    assert.deepEqual(events, ['a done', 'b handed over']);
    assert.deepEqual(loaded(gpu), ['b:1']);
    gpu.close();
  });

  test('a full pending queue answers 503; requests for a loaded model bypass it', async () => {
    const { gpu, stats } = makeGpu({ maxQueue: 2, timeScale: 100 });
    await use(gpu, EIGHT_B, 300, 2048);
    const first = gpu.acquire(A, 1024, 300); // starts a load, leaves the queue
    const queued = [gpu.acquire(B, 1024, 300), gpu.acquire(B, 1024, 300)]; // wait behind the load
    await assert.rejects(gpu.acquire(C, 1024, 300), (err: Error) => err instanceof QueueFullError && err.message === QUEUE_FULL_MESSAGE);
    const bypass = await gpu.acquire(EIGHT_B, 2048, 300);
    bypass.release();
    for (const l of await Promise.all([first, ...queued])) l.release();
    assert.equal(stats.snapshot().totals.rejected_queue_full, 1);
    gpu.close();
  });

  test('a different num_ctx reloads the model', async () => {
    const { gpu, stats } = makeGpu();
    await use(gpu, A, 300, 2048);
    await use(gpu, A, 300, 4096);
    const info = gpu.runnerInfos();
    assert.equal(info.length, 1);
    assert.equal(info[0].numCtx, 4096);
    const s = stats.snapshot().models['a:1'];
    assert.equal(s.loads, 2);
    assert.equal(s.evictions, 1);
    gpu.close();
  });

  test('keep-alive: expires when idle; 0 unloads at once; forever stays', async () => {
    const { gpu, stats } = makeGpu({ timeScale: 1000 });
    await use(gpu, A, 2); // 2 simulated seconds = 2 ms
    assert.deepEqual(loaded(gpu), ['a:1']);
    await sleep(30);
    assert.deepEqual(loaded(gpu), []);
    assert.equal(stats.snapshot().models['a:1'].expiries, 1);
    await use(gpu, B, 0);
    assert.deepEqual(loaded(gpu), []);
    await use(gpu, C, Infinity);
    await sleep(20);
    assert.deepEqual(loaded(gpu), ['c:1']);
    assert.ok(gpu.runnerInfos()[0].expiresAt > Date.now() + 100 * 365 * 86400e3);
    gpu.close();
  });

  test('one stream generates at the configured rate; four share throughput sub-linearly', async () => {
    const { gpu } = makeGpu({ timeScale: 100 });
    const lease = await gpu.acquire(EIGHT_B, 2048, 300);
    const t = await lease.compute({ promptTokens: 490, genTokens: 140 });
    const genS = ((t.endAt - t.promptEndAt) * 100) / 1000;
    const promptS = ((t.promptEndAt - t.slotAt) * 100) / 1000;
    assert.ok(Math.abs(genS - 140 / EIGHT_B.genTokensPerS) < 0.01, `generation took ${genS}s`);
    assert.ok(Math.abs(promptS - 490 / EIGHT_B.promptTokensPerS) < 0.01, `prompt took ${promptS}s`);
    lease.release();

    const leases = await Promise.all([0, 1, 2, 3].map(() => gpu.acquire(EIGHT_B, 2048, 300)));
    const times = await Promise.all(leases.map((l) => l.compute({ promptTokens: 0, genTokens: 140 })));
    const perStream = times.map((x) => ((x.endAt - x.slotAt) * 100) / 1000);
    const expected = 4 ** 0.4; // each of 4 streams runs 4^-0.4 as fast: aggregate 4^0.6 ≈ 2.3×
    for (const s of perStream) assert.ok(Math.abs(s - expected) / expected < 0.1, `stream took ${s}s, expected ≈ ${expected}`);
    leases.forEach((l) => l.release());
    gpu.close();
  });

  test('compute sharing: per model, models side by side run at full speed; per GPU, they take turns', async () => {
    // One stream each: a 1 s answer of A and a 2 s answer of B, started together.
    const run = async (computeSharing: 'per-model' | 'per-gpu') => {
      // ×5: a late timer (a busy machine) moves a hand-over between rates by little simulated time.
      const { gpu } = makeGpu({ timeScale: 5, computeSharing });
      const [la, lb] = [await gpu.acquire(A, 2048, 300), await gpu.acquire(B, 2048, 300)];
      const [ta, tb] = await Promise.all([la.compute({ promptTokens: 0, genTokens: Math.round(A.genTokensPerS) }), lb.compute({ promptTokens: 0, genTokens: Math.round(2 * B.genTokensPerS) })]);
      la.release();
      lb.release();
      gpu.close();
      const sim = (x: { endAt: number; slotAt: number }) => ((x.endAt - x.slotAt) * 5) / 1000;
      return [sim(ta), sim(tb)];
    };
    const [a1, b1] = await run('per-model');
    assert.ok(Math.abs(a1 - 1) < 0.1 && Math.abs(b1 - 2) < 0.15, `per model: ${a1} s and ${b1} s, as alone`);
    // Per GPU: both at half speed until A is done (2 s, B half done), then B alone: 3 s.
    const [a2, b2] = await run('per-gpu');
    assert.ok(Math.abs(a2 - 2) < 0.15 && Math.abs(b2 - 3) < 0.2, `per GPU: ${a2} s and ${b2} s`);
  });

  test('compute: busy time and the share of a full batch delivered (one stream alone ≈ 4^-0.6; beside a full runner, half of the GPU less)', async () => {
    const { gpu, stats } = makeGpu({ timeScale: 5, computeSharing: 'per-gpu' });
    const [a, b] = [await gpu.acquire(A, 2048, 300), await gpu.acquire(B, 2048, 300)];
    // Runner A alone with one stream for 1 simulated s: busy 1 s at 4^-0.6 of a full batch.
    await a.compute({ promptTokens: 0, genTokens: Math.round(A.genTokensPerS) });
    a.release();
    let g = stats.snapshot().compute;
    assert.ok(Math.abs(g.busy_seconds_sim - 1) < 0.1, `busy ${g.busy_seconds_sim} s`);
    assert.ok(Math.abs(g.full_batch_seconds_sim / g.busy_seconds_sim - 4 ** -0.6) < 0.02, `one stream at ${g.full_batch_seconds_sim / g.busy_seconds_sim} of a full batch`);
    stats.reset();
    // Four streams of A: a full batch all the time.
    const four = await Promise.all([0, 1, 2, 3].map(() => gpu.acquire(A, 2048, 300)));
    await Promise.all(four.map((l) => l.compute({ promptTokens: 0, genTokens: Math.round(A.genTokensPerS) })));
    four.forEach((l) => l.release());
    g = stats.snapshot().compute;
    assert.ok(Math.abs(g.full_batch_seconds_sim / g.busy_seconds_sim - 1) < 0.02, `four streams at ${g.full_batch_seconds_sim / g.busy_seconds_sim} of a full batch`);
    stats.reset();
    // A full runner beside one stream of B: each has half the GPU, so 0.5 + 0.5 × 4^-0.6 = 0.72 for the
    // 2 s B takes; then A alone, a full batch, for the 0.74 s its streams still need: 0.79 overall.
    const full = await Promise.all([0, 1, 2, 3].map(() => gpu.acquire(A, 2048, 300)));
    await Promise.all([...full.map((l) => l.compute({ promptTokens: 0, genTokens: Math.round(A.genTokensPerS) })), b.compute({ promptTokens: 0, genTokens: Math.round(B.genTokensPerS) })]);
    full.forEach((l) => l.release());
    b.release();
    g = stats.snapshot().compute;
    const ratio = g.full_batch_seconds_sim / g.busy_seconds_sim;
    assert.ok(Math.abs(ratio - 0.79) < 0.04, `a full runner beside a single stream: ${ratio} of a full batch, expected 0.79`);
    gpu.close();
  });

  test('a canceled request frees its slot', async () => {
    const { gpu } = makeGpu({ numParallel: 1, timeScale: 100 });
    const ac = new AbortController();
    const first = await gpu.acquire(EIGHT_B, 2048, 300);
    const second = await gpu.acquire(EIGHT_B, 2048, 300);
    const long = first.compute({ promptTokens: 0, genTokens: 100000, signal: ac.signal, onTokens: (n) => n >= 5 && ac.abort() });
    await assert.rejects(long, RequestCanceledError);
    first.release();
    const started = Date.now();
    await second.compute({ promptTokens: 0, genTokens: 10 });
    assert.ok(Date.now() - started < 500);
    second.release();
    gpu.close();
  });

  test('a canceled queued request leaves the queue', async () => {
    const { gpu } = makeGpu({ maxQueue: 1, timeScale: 100 });
    const loading = gpu.acquire(A, 1024, 300);
    const ac = new AbortController();
    const queued = gpu.acquire(B, 1024, 300, ac.signal);
    assert.equal(gpu.queueDepth(), 1);
    ac.abort();
    await assert.rejects(queued, RequestCanceledError);
    assert.equal(gpu.queueDepth(), 0);
    (await loading).release();
    gpu.close();
  });
});
