/**
 * SIGTERM while jobs run: the worker (its own process, as deployed) stops pulling, finishes the jobs
 * in flight, unregisters from the scheduler, and exits; queued jobs stay queued for other workers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { FakeScheduler } from '../testing/fake-scheduler';
import { edgeQueue, enqueueLikeEdge, makeJob } from '../testing/jobs.fixture';
import { deleteKeysWithPrefix, randomPrefix, spawnSimulator, TEST_REDIS_URL, type SpawnedSimulator } from '@switchyard/testing';
import { RelayListener } from '../testing/relay-listener';
import { waitFor, within } from '../testing/wait';
import { spawnWorker, type WorkerProcess } from '../testing/worker-process';

const MODEL = 'llama3.1:8b';

describe('shutdown', () => {
  const prefix = randomPrefix('t-shutdown');
  let sim: SpawnedSimulator;
  let scheduler: FakeScheduler;
  let relay: RelayListener;
  let queue: Queue;
  let worker: WorkerProcess;

  before(async () => {
    sim = await spawnSimulator({ timeScale: 20 });
    scheduler = await FakeScheduler.start();
    relay = await RelayListener.start(TEST_REDIS_URL, prefix, 'edge-test');
    queue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', MODEL);
  });

  after(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await queue?.close();
    await relay?.close();
    await scheduler?.stop();
    await sim?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  test('SIGTERM under load: jobs in flight finish, nothing new is pulled, the worker unregisters, then exits', async (t) => {
    worker = spawnWorker({
      SWITCHYARD_PREFIX: prefix,
      OLLAMA_URL: sim.urls[0],
      SCHEDULER_GRPC_URL: scheduler.address,
      AUTH_GRPC_URL: 'none',
      WORKER_MODELS: MODEL,
      WORKER_SLOTS: '2',
      WORKER_ID: 'w-sigterm',
      WORKER_GPU_MEMORY_GB: '80',
      WORKER_STATUS_INTERVAL_MS: '200',
    });
    await waitFor(() => scheduler.of('status').some((s) => s.status.resident.some((r) => r.model === MODEL && r.pulling)), 20_000, `the worker to serve ${MODEL}\n${worker.output()}`);

    const jobs = Array.from({ length: 5 }, () => makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'long' }], options: { num_predict: 2_500 } } }));
    for (const j of jobs) await enqueueLikeEdge(queue, j);
    await waitFor(() => jobs.filter((j) => relay.of(j.requestId).some((m) => m.type === 'chunk')).length === 2, 10_000, 'two jobs streaming');
    const inFlight = jobs.filter((j) => relay.of(j.requestId).some((m) => m.type === 'started'));
    assert.equal(inFlight.length, 2);

    const sentAt = Date.now();
    worker.child.kill('SIGTERM');
    const exit = await within(worker.exited, 20_000);
    assert.ok(exit, `the worker exited\n${worker.output().slice(-3000)}`);
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `exit ${exit.code} ${exit.signal}`);

    const ends = await Promise.all(inFlight.map((j) => relay.end(j.requestId, 1_000)));
    for (const end of ends) assert.equal(end.type, 'final', 'every job in flight finished normally');
    const lastFinal = Math.max(...ends.map((e) => e.receivedAt));
    assert.ok(lastFinal > sentAt, 'they were still running when SIGTERM arrived');

    const others = jobs.filter((j) => !inFlight.includes(j));
    for (const j of others) {
      assert.equal(relay.of(j.requestId).length, 0, 'nothing new was pulled after SIGTERM');
      assert.equal(await queue.getJobState(j.requestId), 'prioritized', 'still queued for another worker');
    }
    assert.equal(await queue.getActiveCount(), 0);

    const unregister = scheduler.of('unregister');
    assert.equal(unregister.length, 1);
    assert.equal(unregister[0].unregister.workerId, 'w-sigterm');
    assert.ok(unregister[0].receivedAt >= lastFinal, 'unregistered after the jobs finished');
    assert.ok(exit.at >= unregister[0].receivedAt);
    t.diagnostic(`drain after SIGTERM: ${lastFinal - sentAt} ms to finish jobs in flight, exit after ${exit.at - sentAt} ms`);
  });
});
