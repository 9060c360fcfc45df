/**
 * placement.v1.Attach against a tiny fake scheduler (a grpc-js server recording what the worker
 * sends and sending it commands), with the worker app in-process, the simulator and the real Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { FakeScheduler } from '../testing/fake-scheduler';
import { edgeQueue, enqueueLikeEdge, makeJob } from '../testing/jobs.fixture';
import { deleteKeysWithPrefix, randomPrefix, spawnSimulator, TEST_REDIS_URL, type SpawnedSimulator } from '@switchyard/testing';
import { RelayListener } from '../testing/relay-listener';
import { SimProbe } from '../testing/sim-client';
import { waitFor } from '../testing/wait';
import { startWorker, type RunningWorker } from '../testing/worker-harness';

const ADOPTED = 'llama3.1:8b';
const LOADED = 'codellama:13b';

describe('placement: Attach, Load, Evict, reconnect', () => {
  const prefix = randomPrefix('t-placement');
  let sim: SpawnedSimulator;
  let probe: SimProbe;
  let scheduler: FakeScheduler;
  let worker: RunningWorker;
  let relay: RelayListener;
  let adoptedQueue: Queue;
  let loadedQueue: Queue;

  before(async () => {
    sim = await spawnSimulator({ timeScale: 10 });
    probe = new SimProbe(sim.urls[0]);
    // Ollama already holds a model when the worker starts: the worker must adopt it.
    await probe.ollama.preload(ADOPTED, { numCtx: 8192, embedding: false });
    scheduler = await FakeScheduler.start();
    relay = await RelayListener.start(TEST_REDIS_URL, prefix, 'edge-test');
    worker = await startWorker({
      SWITCHYARD_PREFIX: prefix,
      OLLAMA_URL: sim.urls[0],
      SCHEDULER_GRPC_URL: scheduler.address,
      WORKER_ID: 'w-attach',
      WORKER_SLOTS: '3',
    });
    adoptedQueue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', ADOPTED);
    loadedQueue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', LOADED);
  });

  after(async () => {
    await worker?.close();
    await adoptedQueue?.close();
    await loadedQueue?.close();
    await relay?.close();
    await scheduler?.stop();
    await probe?.close();
    await sim?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  test('registers first, then reports status regularly with what Ollama holds; adopts it and serves its queue', async () => {
    await scheduler.waitFor((m) => m.msg?.$case === 'register', 5_000, 'register');
    assert.equal(scheduler.messages[0].msg?.$case, 'register', 'register comes first');
    const reg = scheduler.of('register')[0].register;
    assert.deepEqual({ id: reg.workerId, pool: reg.pool, slots: reg.slots, ollama: reg.ollamaUrl, mem: reg.memoryTotalBytes }, { id: 'w-attach', pool: 'shared', slots: 3, ollama: sim.urls[0], mem: 80e9 });
    assert.deepEqual(reg.resident.map((r) => [r.model, r.pulling, r.numCtx]), [[ADOPTED, true, 8192]]);

    await waitFor(() => scheduler.of('status').length >= 3, 3_000, 'regular status');
    const status = scheduler.of('status').at(-1)?.status;
    assert.ok(status);
    assert.equal(status.workerId, 'w-attach');
    assert.ok(status.memoryUsedBytes > 0);
    assert.equal(status.degraded, false);

    const job = makeJob({ model: ADOPTED });
    await enqueueLikeEdge(adoptedQueue, job);
    assert.equal((await relay.end(job.requestId)).type, 'final');
  });

  test('Load preloads with keep_alive -1 and the fixed num_ctx, reports the measured load time, then serves the queue', async (t) => {
    const job = makeJob({ model: LOADED, work: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 10 } } });
    await enqueueLikeEdge(loadedQueue, job);

    const commandId = scheduler.send({ $case: 'load', load: { model: LOADED, numCtx: 8192 } });
    await waitFor(() => scheduler.of('status').some((s) => s.status.loadingModel === LOADED), 5_000, 'status while loading');
    await scheduler.waitFor((m) => m.msg?.$case === 'loadResult' && m.msg.loadResult.commandId === commandId, 10_000, 'loadResult');
    const result = scheduler.of('loadResult').find((r) => r.loadResult.commandId === commandId)?.loadResult;
    assert.ok(result?.ok, result?.error);
    // codellama:13b in the simulator: 7.4 GB at 10 GB/s + 1.5 s start-up ≈ 2.2 s, ÷ time-scale 10.
    assert.ok(result.loadSeconds > 0.1 && result.loadSeconds < 2, `load took ${result.loadSeconds} s`);
    t.diagnostic(`measured load of ${LOADED}: ${result.loadSeconds.toFixed(3)} s (simulated ≈ 2.2 s at time-scale 10)`);

    const ps = await probe.ollama.ps();
    const entry = ps.find((p) => p.name === LOADED);
    assert.equal(entry?.context_length, 8192);
    assert.ok(entry?.expires_at && new Date(entry.expires_at).getFullYear() > 2100, 'keep_alive -1: never expires');

    await waitFor(() => scheduler.of('status').at(-1)?.status.loadTimes.some((l) => l.model === LOADED), 3_000, 'the load time in status');
    const last = scheduler.of('status').at(-1)?.status;
    assert.ok(last?.resident.some((r) => r.model === LOADED && r.pulling));

    assert.equal((await relay.end(job.requestId)).type, 'final', 'the job waiting in its queue ran once the model was loaded');
  });

  test('Evict stops pulling, lets the job in flight finish, then unloads (gone from /api/ps)', async () => {
    const job = makeJob({ model: LOADED, work: { kind: 'chat', messages: [{ role: 'user', content: 'long' }], options: { num_predict: 800 } } });
    await enqueueLikeEdge(loadedQueue, job);
    await relay.first(job.requestId, 'chunk');

    const commandId = scheduler.send({ $case: 'evict', evict: { model: LOADED, reason: 'test' } });
    await waitFor(() => scheduler.of('status').at(-1)?.status.resident.some((r) => r.model === LOADED && !r.pulling), 3_000, 'status: draining');
    await scheduler.waitFor((m) => m.msg?.$case === 'evictResult' && m.msg.evictResult.commandId === commandId, 10_000, 'evictResult');
    const result = scheduler.of('evictResult').find((r) => r.evictResult.commandId === commandId);
    assert.ok(result?.evictResult.ok);

    const end = await relay.end(job.requestId);
    assert.equal(end.type, 'final', 'the job in flight finished');
    assert.ok(end.receivedAt <= result.receivedAt, 'before the eviction completed');
    assert.ok(!(await probe.ollama.ps()).some((p) => p.name === LOADED));
    await waitFor(() => !scheduler.of('status').at(-1)?.status.resident.some((r) => r.model === LOADED), 3_000, 'status without it');

    // Its queue is no longer pulled.
    const orphan = makeJob({ model: LOADED });
    await enqueueLikeEdge(loadedQueue, orphan);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await loadedQueue.getJobState(orphan.requestId), 'prioritized', 'still queued (BullMQ keeps jobs with a priority as prioritized)');
  });

  test('while the scheduler is away the worker keeps serving; when it is back the worker attaches again', async () => {
    const port = scheduler.port;
    const registersBefore = scheduler.of('register').length;
    await scheduler.stop();

    const job = makeJob({ model: ADOPTED });
    await enqueueLikeEdge(adoptedQueue, job);
    assert.equal((await relay.end(job.requestId)).type, 'final');

    scheduler = await FakeScheduler.start(port);
    await scheduler.waitFor((m) => m.msg?.$case === 'register', 5_000, 'register again');
    assert.ok(registersBefore >= 1);
    const reg = scheduler.of('register')[0].register;
    assert.ok(reg.resident.some((r) => r.model === ADOPTED && r.pulling));
    assert.ok(reg.loadTimes.some((l) => l.model === LOADED), 'measured load times survive a reconnect');
  });
});
